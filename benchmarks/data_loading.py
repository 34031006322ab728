"""Data loading: samples/s of the training DataLoader (without and with the default augmentations, mirror + noise)
vs one sorted fancy-index gather per batch from the same memory-mapped shards (the limit), and vs a per-item
`__getitem__` loader; batch 256, 1 torch thread, arms interleaved in paired rounds, the median round counts.
Rates are per CPU second of the loading process, in the same process for every arm.

    .venv/bin/python benchmarks/data_loading.py [--quick]     # or through the suite: make bench
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _demo_data import demo_data_dir  # noqa: E402

from drivelab.config.registry import instantiate  # noqa: E402
from drivelab.config.validate import compose  # noqa: E402
from drivelab.data.windows import store  # noqa: E402

BATCH = 256
GOAL = 0.8  # the loader's share of the gather's rate


class PerItem(Dataset):
    """The same windows read one at a time (what a plain `Dataset.__getitem__` does)."""

    def __init__(self, split: store.WindowSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return {name: torch.from_numpy(np.ascontiguousarray(array[0]))
                for name, array in self.split.gather([index]).items()}


def samples_per_s(batches: Callable[[], Any], epochs: int) -> float:
    """Windows per CPU second of this process (other work on a shared machine barely moves CPU time)."""
    windows, started = 0, time.process_time()
    for _ in range(epochs):
        for batch in batches():
            windows += len(batch["history"])
    return windows / (time.process_time() - started)


def measure(quick: bool) -> List[Dict[str, Any]]:
    torch.set_num_threads(1)
    data_dir = demo_data_dir()
    epochs, rounds = (4, 3) if quick else (20, 7)
    split = store.open_split(data_dir / "windows", "train")
    rng = np.random.default_rng(0)

    def gather():
        order = rng.permutation(len(split))
        for start in range(0, len(order), BATCH):
            arrays = split.gather(np.sort(order[start:start + BATCH]))
            yield {name: torch.from_numpy(array) for name, array in arrays.items()}

    def gather_and_draws():
        """The floor of augmented loading: the gather plus the random numbers mirror + noise must draw."""
        generator = torch.Generator().manual_seed(0)
        for batch in gather():
            n, steps = batch["history"].shape[:2]
            torch.rand(n, generator=generator)
            torch.randn((n, steps, 2), generator=generator)
            torch.randn((*batch["neighbours"].shape[:3], 2), generator=generator)
            yield batch

    def loader(*overrides: str):
        module = instantiate(compose("train", [f"paths.data_dir={data_dir}", f"data.batch_size={BATCH}", *overrides]).data)
        module.setup("fit")
        return module.train_dataloader

    per_item = DataLoader(PerItem(split), batch_size=BATCH, shuffle=True)
    arms: Dict[str, Callable[[], Any]] = {"gather": gather, "loader": loader(), "per_item": lambda: iter(per_item),
                                          "gather_and_draws": gather_and_draws,
                                          "loader_augmented": loader("augment=[mirror,noise]")}
    rates: Dict[str, List[float]] = {name: [] for name in arms}
    for _ in range(rounds):
        for name, batches in arms.items():
            rates[name].append(samples_per_s(batches, epochs if name != "per_item" else max(1, epochs // 4)))
    rate = {name: statistics.median(values) for name, values in rates.items()}
    ms_per_batch = {f"{name}_ms_per_batch": round(1000 * BATCH / value, 3) for name, value in rate.items()}
    raw = {**{f"{name}_samples_per_s": round(value) for name, value in rate.items()}, **ms_per_batch,
           "windows": len(split), "batch_size": BATCH, "epochs": epochs, "rounds": rounds}
    return [
        {"name": "loading_loader_vs_gather", "what": "training DataLoader vs one sorted gather per batch",
         "ratio": rate["loader"] / rate["gather"], "goal": GOAL, "better": "higher", "raw": raw},
        {"name": "loading_augmented_loader_vs_gather",
         "what": "training DataLoader with augment=[mirror,noise] vs one sorted gather per batch",
         "ratio": rate["loader_augmented"] / rate["gather"], "goal": GOAL, "better": "higher", "raw": raw},
        {"name": "loading_augmented_loader_vs_gather_and_draws",
         "what": "training DataLoader with augment=[mirror,noise] vs the gather plus the same random draws",
         "ratio": rate["loader_augmented"] / rate["gather_and_draws"], "goal": None, "better": "higher", "raw": raw},
        {"name": "loading_per_item_vs_gather", "what": "per-item __getitem__ DataLoader vs one sorted gather per batch",
         "ratio": rate["per_item"] / rate["gather"], "goal": None, "better": "higher", "raw": raw},
    ]


if __name__ == "__main__":
    from suite import run_alone

    run_alone(measure, __doc__)
