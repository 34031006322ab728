"""Batches of windows for Lightning: one gather per batch (and shard) from memory-mapped shards, not item by item.

Training batches pass through the configured augmentations (`data.augment`, see `drivelab.data.windows.augment`);
validation and test batches never do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from drivelab.data.windows import store
from drivelab.data.windows.augment import Augmenter
from drivelab.data.windows.batch import Batch
from drivelab.data.windows.sampling import ShuffledOrder, WindowBatches


class WindowDataset(Dataset):
    """One split of windows. `__getitems__` lets the DataLoader fetch a whole batch with one fancy-index gather."""

    def __init__(self, windows_dir: Path, split: Union[str, Sequence[str]]) -> None:
        self.split = store.open_split(windows_dir, split) if isinstance(split, str) else store.open_splits(windows_dir, split)
        self.length = len(self.split)

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        order = np.sort(np.asarray(indices, dtype=np.int64))  # ascending reads are cheapest on a memory map
        return {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in self.split.gather(order).items()}

    def __getitem__(self, index: int) -> Batch:
        return {name: value[0] for name, value in self.__getitems__([index]).items()}


def keep_batch(batch: Batch) -> Batch:
    """Collate for `__getitems__`: the dataset already returns a batch."""
    return batch


class WindowDataModule(pl.LightningDataModule):
    """`test_splits`: the splits read as the test set (every split, for a data version used only for testing)."""

    def __init__(self, windows_dir: str, batch_size: int = 256, eval_batch_size: int = 1024, num_workers: int = 0,
                 augment: Optional[Mapping[str, Any]] = None, augment_seed: int = 0,
                 test_splits: Sequence[str] = ("test",)) -> None:
        super().__init__()
        self.windows_dir = Path(windows_dir)
        self.test_splits = tuple(test_splits)
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.info: Dict[str, Any] = store.read_info(self.windows_dir)
        self.augmenter = Augmenter(dict(augment or {}), seed=augment_seed, spec=self.info["spec"])
        self.datasets: Dict[str, WindowDataset] = {}
        self.resume_position: Optional[tuple[int, int]] = None  # (epoch, batches done), set when a run resumes

    @property
    def shapes(self) -> Dict[str, Any]:
        """What a model needs to know about the windows: sizes, rate, feature names and train-split scales."""
        spec = self.info["spec"]
        return {
            "history_steps": spec["history_steps"],
            "future_steps": spec["future_steps"],
            "max_neighbours": spec["max_neighbours"],
            "sample_hz": spec["sample_hz"],
            "features": list(self.info["features"]),
            "normalisation": dict(self.info["normalisation"]),
        }

    def setup(self, stage: Optional[str] = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage, ("train", "val", "test")):
            if split not in self.datasets:
                source = self.test_splits if split == "test" else (split,)
                self.datasets[split] = WindowDataset(self.windows_dir, source[0] if len(source) == 1 else source)

    def _loader(self, split: str, batch_size: int, shuffle: bool, collate: Callable[[Batch], Batch] = keep_batch) -> DataLoader:
        dataset = self.datasets[split]
        # Whole index arrays per batch (see drivelab.data.windows.sampling): no per-window Python work, and under
        # DDP every window once per epoch, in the same global batches as one process.
        order = ShuffledOrder(dataset) if shuffle else SequentialSampler(dataset)
        batches = WindowBatches(order, batch_size)
        if shuffle and self.resume_position is not None:
            batches.resume_at(*self.resume_position)  # a resumed run sees the batches an uninterrupted one would
        return DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True, collate=self.augmenter if self.augmenter else keep_batch)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)
