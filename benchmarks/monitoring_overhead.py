"""What monitoring costs per training step: no monitoring, the TrainingHealth callback, the NaN guard, both (the
default), and Lightning's `detect_anomaly`, side by side in one run.

    .venv/bin/python benchmarks/monitoring_overhead.py [--steps 200] [--rounds 3] [--batch 256] [--hidden 256]

Every arm trains the same MLP (sized like drivelab's default model: a window's history in, 5 s of future positions
out, random values) for the same steps, one thread, no logger, no checkpoints, timed in process CPU time per step; arms take turns over several rounds so that a machine's load
drifts over all of them alike. It prints the median step time per arm, the overhead against no monitoring, and
each arm's cost as a share of detect_anomaly's overhead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Dict, List

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from drivelab.monitoring.health import TrainingHealth
from drivelab.monitoring.nan_guard import NanGuard

HISTORY, FUTURE, NEIGHBOURS, FEATURES = 30, 50, 8, 7


class RandomWindows(Dataset):
    """Windows with a history (steps x features) and a future (steps x 2), random values, one gather per batch."""

    def __init__(self, count: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.history = torch.randn(count, HISTORY, FEATURES, generator=generator)
        self.future = torch.randn(count, FUTURE, 2, generator=generator)

    def __len__(self) -> int:
        return len(self.history)

    def __getitems__(self, indices):
        index = torch.as_tensor(indices)
        return {"history": self.history[index], "future": self.future[index]}


class MLP(pl.LightningModule):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(HISTORY * FEATURES, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, FUTURE * 2))

    def training_step(self, batch, batch_idx):
        prediction = self.net(batch["history"]).view(-1, FUTURE, 2)
        return (prediction - batch["future"]).pow(2).sum(-1).sqrt().mean()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class StepTimes(pl.Callback):
    """CPU time of the process (all threads: the watchdog's too) between consecutive step ends; listed last, so
    every other callback's cost falls inside. CPU time, not wall time: on a shared machine other processes' load
    swings wall time by more than the differences measured here."""

    def __init__(self) -> None:
        self.times: List[float] = []
        self._last = None

    def on_train_batch_end(self, *args, **kwargs) -> None:
        now = time.process_time()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def one_arm(arm: str, steps: int, batch: int, hidden: int) -> float:
    """Median seconds per training step of one arm (from one step's end to the next: loading included, alike)."""
    torch.manual_seed(0)
    timer = StepTimes()
    callbacks: List[pl.Callback] = []
    if arm in ("health", "health + NaN guard (default)"):
        callbacks.append(TrainingHealth(every_n_steps=50, stall_after_s=300, plot=False))
    if arm in ("NaN guard", "health + NaN guard (default)"):
        callbacks.append(NanGuard())
    callbacks.append(timer)
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(default_root_dir=folder, max_steps=steps, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1,
                             callbacks=callbacks, detect_anomaly=arm == "detect_anomaly")
        loader = DataLoader(RandomWindows(batch * 16), batch_size=batch, shuffle=True, collate_fn=lambda b: b)
        trainer.fit(MLP(hidden), train_dataloaders=loader)
    return statistics.median(timer.times[5:])  # the first steps pay for warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    arms = ["none", "health", "NaN guard", "health + NaN guard (default)", "detect_anomaly"]
    results: Dict[str, List[float]] = {arm: [] for arm in arms}
    for _ in range(args.rounds):
        for arm in arms:
            results[arm].append(one_arm(arm, args.steps, args.batch, args.hidden))
    step = {arm: statistics.median(values) for arm, values in results.items()}
    base, anomaly = step["none"], step["detect_anomaly"] - step["none"]
    print(f"{args.steps} steps x {args.rounds} rounds, batch {args.batch}, hidden {args.hidden}, 1 thread, CPU")
    print(f"{'arm':<30}{'CPU ms/step':>12}{'vs none':>12}{'share of detect_anomaly overhead':>36}")
    for arm in arms:
        overhead = step[arm] - base
        share = f"{100 * overhead / anomaly:.1f}%" if anomaly > 0 and arm != "none" else "-"
        print(f"{arm:<30}{1000 * step[arm]:>12.3f}{100 * overhead / base:>+11.1f}%{share:>36}")


if __name__ == "__main__":
    main()
