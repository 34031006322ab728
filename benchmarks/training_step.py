"""Training step: `drivelab train` (default callbacks and loggers) vs bare Lightning vs a plain PyTorch loop, same
module, same data, batch 256, 1 torch thread, in paired rounds; and the cost of each thing drivelab used to pay per
step, each put back on its own.

    .venv/bin/python benchmarks/training_step.py [--quick]     # or through the suite: make bench

A step's time is the time between the starts of consecutive training batches within an epoch (loading, forward,
backward, optimiser, logging, callbacks, progress bar: everything a step costs), after a few warm-up steps; epoch
ends (validation, checkpoints) are not steps and are left out. Ratios use the process's CPU time (all its threads),
which other work on a shared machine barely moves; wall times are in the raw figures (equal on an idle machine). Each arm runs once per round, arms interleaved,
and the median over rounds counts, so a noisy neighbour slows every arm alike.

Arms put back: `fill_uninitialized_memory` (what `deterministic: true` turns on in PyTorch: every new tensor is filled
with NaN first); a Rich progress bar drawn on a terminal at every step (Lightning's default); gradient-norm clipping
through `torch.nn.utils.clip_grad_norm_` (Lightning's default) instead of drivelab's one-norm clip.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytorch_lightning as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _demo_data import demo_data_dir  # noqa: E402

from drivelab import runs  # noqa: E402
from drivelab.config.validate import compose  # noqa: E402

WARMUP_STEPS = 5
GOAL = 1.05  # drivelab's additions on top of bare Lightning


def clocks() -> Tuple[float, float]:
    """(CPU seconds of this process, all its threads; wall seconds)."""
    return time.process_time(), time.perf_counter()


class StepClock(pl.Callback):
    """CPU and wall seconds between consecutive training-batch starts within an epoch, after the warm-up."""

    def __init__(self) -> None:
        self.cpu: List[float] = []
        self.wall: List[float] = []
        self.last: Any = None
        self.steps = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self.tick()

    def tick(self) -> None:
        now = clocks()
        if self.last is not None and self.steps > WARMUP_STEPS:
            self.cpu.append(now[0] - self.last[0])
            self.wall.append(now[1] - self.last[1])
        self.last, self.steps = now, self.steps + 1

    def ms_per_step(self) -> Tuple[float, float]:
        return 1000 * statistics.mean(self.cpu), 1000 * statistics.mean(self.wall)


class PutBack(pl.Callback):
    """Restores one of the per-step costs drivelab removed, for the arm that measures it."""

    def __init__(self, cost: str) -> None:
        self.cost = cost

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.cost == "fill_uninitialized_memory":
            torch.utils.deterministic.fill_uninitialized_memory = True
        elif self.cost == "clip_grad_norm_":
            pl_module.configure_gradient_clipping = lambda optimizer, gradient_clip_val=None, gradient_clip_algorithm=None: \
                pl.LightningModule.configure_gradient_clipping(pl_module, optimizer, gradient_clip_val,
                                                               gradient_clip_algorithm)


def config(data_dir: Path, model: str, steps: int, *overrides: str):
    return compose("train", [f"paths.data_dir={data_dir}", f"model={model}", "data.batch_size=256",
                             f"trainer.max_steps={steps}", "trainer.max_epochs=-1", "trainer.limit_val_batches=0",
                             "test_after_fit=false", "trainer.enable_model_summary=false", *overrides])


def drivelab_arm(data_dir: Path, model: str, steps: int, work: Path, *extra: pl.Callback,
                 overrides=()) -> Tuple[float, float]:
    clock = StepClock()
    run_dir = Path(tempfile.mkdtemp(dir=work))
    runs.train(config(data_dir, model, steps, *overrides), run_dir, extra_callbacks=[clock, *extra])
    return clock.ms_per_step()


def bare_lightning_arm(data_dir: Path, model: str, steps: int, work: Path) -> Tuple[float, float]:
    cfg = config(data_dir, model, steps)
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule, module = runs.build(cfg)
    clock = StepClock()
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1, limit_val_batches=0,
                         logger=False, callbacks=[clock], enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(work))
    trainer.fit(module, datamodule=datamodule)
    return clock.ms_per_step()


def plain_loop_arm(data_dir: Path, model: str, steps: int, work: Path) -> Tuple[float, float]:
    cfg = config(data_dir, model, steps)
    torch.manual_seed(cfg.seed)
    datamodule, module = runs.build(cfg)
    datamodule.setup("fit")
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    module.train()
    clock = StepClock()
    while clock.steps < steps:
        clock.on_train_epoch_start(None, module)
        for batch in datamodule.train_dataloader():
            clock.tick()
            loss = module.loss(module(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if clock.steps >= steps:
                break
    return clock.ms_per_step()


def measure(quick: bool) -> List[Dict[str, Any]]:
    torch.set_num_threads(1)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    data_dir = demo_data_dir()
    steps, rounds = (60, 2) if quick else (400, 7)
    figures = []
    with tempfile.TemporaryDirectory(prefix="drivelab-step-") as scratch:
        work = Path(scratch)
        rich_every_step = ["+callbacks.rich_bar._target_=pytorch_lightning.callbacks.RichProgressBar",
                           "+callbacks.rich_bar.refresh_rate=100", "+callbacks.rich_bar.console_kwargs.force_terminal=true",
                           "callbacks.progress_bar=null"]
        for model in ("mlp", "gru"):
            arms: Dict[str, Callable[[], Tuple[float, float]]] = {
                "plain": lambda: plain_loop_arm(data_dir, model, steps, work),
                "bare": lambda: bare_lightning_arm(data_dir, model, steps, work),
                "drivelab": lambda: drivelab_arm(data_dir, model, steps, work),
                "fill": lambda: drivelab_arm(data_dir, model, steps, work, PutBack("fill_uninitialized_memory")),
                "rich": lambda: drivelab_arm(data_dir, model, steps, work, overrides=rich_every_step),
                "clip": lambda: drivelab_arm(data_dir, model, steps, work, PutBack("clip_grad_norm_")),
            }
            times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in arms}
            for _ in range(rounds):
                for name, arm in arms.items():
                    times[name].append(arm())
                    torch.utils.deterministic.fill_uninitialized_memory = False  # never leak into the next arm
            ms = {name: statistics.median(cpu for cpu, _ in values) for name, values in times.items()}
            wall = {name: statistics.median(wall for _, wall in values) for name, values in times.items()}
            raw = {f"{name}_cpu_ms_per_step": round(value, 3) for name, value in ms.items()}
            raw.update({f"{name}_wall_ms_per_step": round(value, 3) for name, value in wall.items()})
            raw.update(steps=steps, rounds=rounds, batch_size=256, torch_threads=1)
            figures.append({"name": f"train_step_{model}_drivelab_vs_bare_lightning",
                            "what": f"{model.upper()} step: drivelab train vs bare Lightning",
                            "ratio": ms["drivelab"] / ms["bare"], "goal": GOAL, "better": "lower", "raw": raw})
            figures.append({"name": f"train_step_{model}_bare_lightning_vs_plain_loop",
                            "what": f"{model.upper()} step: bare Lightning vs plain PyTorch loop",
                            "ratio": ms["bare"] / ms["plain"], "goal": None, "better": "lower", "raw": raw})
            for arm, label in (("fill", "deterministic NaN fill of new tensors put back"),
                               ("rich", "Rich progress bar on a terminal, every step, put back"),
                               ("clip", "clip_grad_norm_ instead of the one-norm clip put back")):
                figures.append({"name": f"train_step_{model}_cost_of_{arm}",
                                "what": f"{model.upper()} step: {label} (vs drivelab; "
                                        f"{ms[arm] - ms['drivelab']:+.2f} CPU ms/step)",
                                "ratio": ms[arm] / ms["drivelab"], "goal": None, "better": "lower", "raw": raw})
    return figures


if __name__ == "__main__":
    from suite import run_alone

    run_alone(measure, __doc__)
