"""Batches of windows for Lightning: one gather per batch (and shard) from memory-mapped shards, not item by item.

Training batches pass through the configured augmentations (`data.augment`, see `drivelab.data.windows.augment`);
validation and test batches never do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from drivelab.data.windows import store
from drivelab.data.windows.augment import Augmenter
from drivelab.data.windows.batch import Batch


class WindowDataset(Dataset):
    """One split of windows. `__getitems__` lets the DataLoader fetch a whole batch with one fancy-index gather."""

    def __init__(self, windows_dir: Path, split: str) -> None:
        self.split = store.open_split(windows_dir, split)
        self.length = len(self.split)

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        order = np.sort(np.asarray(indices, dtype=np.int64))  # ascending reads are cheapest on a memory map
        return {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in self.split.gather(order).items()}

    def __getitem__(self, index: int) -> Batch:
        return {name: value[0] for name, value in self.__getitems__([index]).items()}


class EpochSampler(Sampler[int]):
    """Shuffled training order that depends only on (seed, epoch), not on any global random state, and that can
    start part-way into an epoch: a resumed run sees exactly the batches an uninterrupted run would have seen.
    Lightning calls `set_epoch` before each epoch."""

    def __init__(self, length: int, seed: int, batch_size: int) -> None:
        self.length, self.seed, self.batch_size = length, int(seed), batch_size
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.start_batch = epoch, 0

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """The next iteration starts at batch `batches_done` of epoch `epoch`."""
        self.epoch, self.start_batch = epoch, batches_done

    def __len__(self) -> int:
        return self.length  # the epoch's length even when resumed part-way: Lightning counts the batches already done

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator)[self.start_batch * self.batch_size:]
        self.start_batch = 0  # only the first pass after a resume starts late
        return iter(order.tolist())


def keep_batch(batch: Batch) -> Batch:
    """Collate for `__getitems__`: the dataset already returns a batch."""
    return batch


class WindowDataModule(pl.LightningDataModule):
    def __init__(self, windows_dir: str, batch_size: int = 256, eval_batch_size: int = 1024, num_workers: int = 0,
                 augment: Optional[Mapping[str, Any]] = None, augment_seed: int = 0) -> None:
        super().__init__()
        self.windows_dir = Path(windows_dir)
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
                self.datasets[split] = WindowDataset(self.windows_dir, split)

    def _loader(self, split: str, batch_size: int, shuffle: bool, collate: Callable[[Batch], Batch] = keep_batch) -> DataLoader:
        sampler = None
        if shuffle:
            # The run's seed, as `pytorch_lightning.seed_everything` records it for loader workers.
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
            sampler = EpochSampler(len(self.datasets[split]), seed, batch_size)
            if self.resume_position is not None:
                sampler.resume_at(*self.resume_position)
        return DataLoader(
            self.datasets[split],
            batch_size=batch_size,
            sampler=sampler,
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
