"""What monitoring costs per training step: no monitoring, the TrainingHealth callback, the NaN guard, both (the
default), and Lightning's `detect_anomaly`, side by side in one run.

    .venv/bin/python benchmarks/monitoring_overhead.py [--steps 150] [--rounds 2] [--batch 256] [--hidden 256]
    .venv/bin/python benchmarks/monitoring_overhead.py --quick     # the suite's figures (or: make bench)

Every arm trains the same MLP (sized like drivelab's default model: a window's history in, 5 s of future positions
out, random values) for the same steps, one thread, no logger, no checkpoints; arms take turns over several
rounds so that a machine's load drifts over all of them alike. It prints per arm the median process CPU time per step and its difference from no
monitoring (noisy on a shared machine: differences under a few percent are noise), and, measured apart from that
noise, the time spent inside the monitoring callbacks' own hooks per step, as a share of a step and of
detect_anomaly's overhead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any, Dict, List, Tuple

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
    swings wall time by more than the differences measured here. Each step end also opens the next step's entry in
    `hook_times` (CPU time inside the monitoring callbacks' hooks, per step)."""

    def __init__(self) -> None:
        self.times: List[float] = []
        self.hook_times: List[float] = [0.0]
        self._last = None

    def on_train_batch_end(self, *args, **kwargs) -> None:
        now = time.process_time()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now
        self.hook_times.append(0.0)


HOOKS = ("on_train_batch_start", "on_before_backward", "on_before_optimizer_step", "on_train_batch_end")


def time_hooks(callback: pl.Callback, spent: List[float]) -> pl.Callback:
    """Wrap the callback's per-step hooks so that the CPU time spent inside them adds up in `spent[-1]` (the current
    step's entry): its own cost, apart from the machine's noise in whole steps."""
    for name in HOOKS:
        hook = getattr(callback, name)

        def timed(*args, _hook=hook, **kwargs):
            started = time.thread_time()  # the hooks run on the training thread
            try:
                return _hook(*args, **kwargs)
            finally:
                spent[-1] += time.thread_time() - started

        setattr(callback, name, timed)
    return callback


def one_arm(arm: str, steps: int, batch: int, hidden: int) -> Tuple[float, float]:
    """(median CPU seconds per training step from one step's end to the next, loading included alike; seconds per
    step spent inside the monitoring callbacks' hooks)."""
    torch.manual_seed(0)
    timer = StepTimes()
    spent = timer.hook_times
    callbacks: List[pl.Callback] = []
    if arm in ("health", "health + NaN guard (default)"):
        callbacks.append(time_hooks(TrainingHealth(every_n_steps=50, stall_after_s=300, plot=False), spent))
    if arm in ("NaN guard", "health + NaN guard (default)"):
        callbacks.append(time_hooks(NanGuard(), spent))
    callbacks.append(timer)
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(default_root_dir=folder, max_steps=steps, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1,
                             callbacks=callbacks, detect_anomaly=arm == "detect_anomaly")
        loader = DataLoader(RandomWindows(batch * 16), batch_size=batch, shuffle=True, collate_fn=lambda b: b)
        trainer.fit(MLP(hidden), train_dataloaders=loader)
    # The first steps pay for warm-up; the hooks' mean spreads the every-50-steps figures over all steps.
    return statistics.median(timer.times[5:]), statistics.fmean(spent[5:-1])


ARMS = ["none", "health", "NaN guard", "health + NaN guard (default)", "detect_anomaly"]
DEFAULT = "health + NaN guard (default)"
KEYS = {"none": "none", "health": "health", "NaN guard": "nan_guard", DEFAULT: "default",
        "detect_anomaly": "detect_anomaly"}  # the arms' names in the raw figures


def run_arms(steps: int, rounds: int, batch: int, hidden: int) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Per arm, the medians over the rounds of CPU seconds per step and of seconds per step inside the hooks."""
    torch.set_num_threads(1)
    results: Dict[str, List[float]] = {arm: [] for arm in ARMS}
    inside: Dict[str, List[float]] = {arm: [] for arm in ARMS}
    for _ in range(rounds):
        for arm in ARMS:
            step_s, hooks_s = one_arm(arm, steps, batch, hidden)
            results[arm].append(step_s)
            inside[arm].append(hooks_s)
    step = {arm: statistics.median(values) for arm, values in results.items()}
    own = {arm: statistics.median(values) for arm, values in inside.items()}
    return step, own


def measure(quick: bool) -> List[Dict[str, Any]]:
    steps, rounds, batch, hidden = (100, 2, 256, 256) if quick else (150, 2, 256, 256)
    step, own = run_arms(steps, rounds, batch, hidden)
    base, anomaly = step["none"], step["detect_anomaly"] - step["none"]
    raw: Dict[str, Any] = {f"{KEYS[arm]}_cpu_ms_per_step": round(1000 * value, 3) for arm, value in step.items()}
    raw.update({f"{KEYS[arm]}_hooks_ms_per_step": round(1000 * value, 4) for arm, value in own.items() if value})
    raw.update(steps=steps, rounds=rounds, batch_size=batch, hidden=hidden)
    figures = [
        {"name": "monitoring_default_vs_none", "what": "training step with health + NaN guard (default) vs none",
         "ratio": step[DEFAULT] / base, "goal": None, "better": "lower", "raw": raw},
        # The hooks' own CPU time is far steadier than a whole step's on a shared machine.
        {"name": "monitoring_default_hooks_vs_step",
         "what": "CPU time inside the default monitoring hooks vs a training step without monitoring",
         "ratio": own[DEFAULT] / base, "goal": None, "better": "lower", "raw": raw},
        {"name": "monitoring_detect_anomaly_vs_none", "what": "training step with detect_anomaly vs no monitoring",
         "ratio": step["detect_anomaly"] / base, "goal": None, "better": "lower", "raw": raw},
    ]
    if anomaly > 0:  # noise can hide detect_anomaly's cost; a ratio to nothing says nothing
        figures.append({"name": "monitoring_default_hooks_vs_detect_anomaly",
                        "what": "CPU time inside the default monitoring hooks vs what detect_anomaly adds per step",
                        "ratio": own[DEFAULT] / anomaly, "goal": None, "better": "lower", "raw": raw})
    return figures


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="the suite's small size; prints its figures")
    args = parser.parse_args(argv)
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return
    step, own = run_arms(args.steps, args.rounds, args.batch, args.hidden)
    base, anomaly = step["none"], step["detect_anomaly"] - step["none"]
    print(f"{args.steps} steps x {args.rounds} rounds, batch {args.batch}, hidden {args.hidden}, 1 thread, CPU")
    print(f"{'arm':<30}{'CPU ms/step':>12}{'vs none':>10}{'in hooks ms/step':>18}{'hooks / step':>14}"
          f"{'hooks / detect_anomaly overhead':>33}")
    for arm in ARMS:
        overhead = step[arm] - base
        hooks = f"{1000 * own[arm]:.3f}" if own[arm] else "-"
        of_step = f"{100 * own[arm] / base:.2f}%" if own[arm] else "-"
        of_anomaly = f"{100 * own[arm] / anomaly:.2f}%" if own[arm] and anomaly > 0 else "-"
        print(f"{arm:<30}{1000 * step[arm]:>12.3f}{100 * overhead / base:>+9.1f}%{hooks:>18}{of_step:>14}"
              f"{of_anomaly:>33}")


if __name__ == "__main__":
    main()
