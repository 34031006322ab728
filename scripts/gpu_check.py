"""What `scripts/gpu_check.sh` measures on a GPU machine, printed as one table: training throughput of the
reference models (MLP, GRU) at batch 256 and 4096 in fp32 and bf16 mixed precision, the same under `torch.compile`,
and `drivelab train trainer=ddp` on every GPU of the node (the real CLI, its test metrics and wall time).

    .venv/bin/python scripts/gpu_check.py --data-dir DIR                      # on a GPU machine
    .venv/bin/python scripts/gpu_check.py --data-dir DIR --accelerator cpu --steps 3 --batch-sizes 64   # smoke test

Throughput is windows per second over the steps after a warm-up (the first steps include compilation and CUDA
start-up), measured between consecutive batch starts within an epoch, as `benchmarks/training_step.py` does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytorch_lightning as pl
import torch

from drivelab import runs
from drivelab.config.validate import compose
from drivelab.runs.builder import for_trainer

WARMUP_STEPS = 5


class StepClock(pl.Callback):
    def __init__(self) -> None:
        self.intervals: List[float] = []
        self.last: Any = None
        self.steps = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # a step's GPU work counts in the step that queued it
        now = time.perf_counter()
        if self.last is not None and self.steps > WARMUP_STEPS:
            self.intervals.append(now - self.last)
        self.last, self.steps = now, self.steps + 1


def throughput(data_dir: Path, model: str, batch_size: int, precision: str, compiled: bool, accelerator: str,
               steps: int) -> float:
    """Windows per second of training steps on one device."""
    cfg = compose("train", [f"paths.data_dir={data_dir}", f"model={model}", f"data.batch_size={batch_size}",
                            f"model.compile={str(compiled).lower()}"])
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule, module = runs.build(cfg)
    clock = StepClock()
    trainer = pl.Trainer(accelerator=accelerator, devices=1, precision=precision, max_steps=WARMUP_STEPS + 1 + steps,
                         max_epochs=-1, limit_val_batches=0, logger=False, callbacks=[clock], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, deterministic=False)
    trainer.fit(for_trainer(module), datamodule=datamodule)
    if not clock.intervals:
        raise RuntimeError(f"no timed steps: the data set has too few batches of {batch_size}; simulate more episodes")
    return batch_size * len(clock.intervals) / sum(clock.intervals)


def ddp_run(data_dir: Path, accelerator: str, devices: int, out: Path) -> Dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "drivelab", "train", "trainer=ddp", f"trainer.accelerator={accelerator}",
                           f"trainer.devices={devices}", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
                           "logger=csv", "report_plots=false", f"paths.data_dir={data_dir}", f"hydra.run.dir={out}"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"ok": False, "seconds": seconds, "detail": (done.stderr.strip().splitlines() or ["?"])[-1]}
    test_line = [line for line in done.stdout.splitlines() if line.startswith("test:")]
    return {"ok": True, "seconds": seconds, "detail": test_line[-1] if test_line else "no test line"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data folder with windows/")
    parser.add_argument("--accelerator", default="gpu", help="gpu (default) or cpu for a smoke test")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per throughput measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--models", nargs="+", default=["mlp", "gru"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/drivelab-gpu-check"))
    args = parser.parse_args()
    if args.accelerator == "gpu" and not torch.cuda.is_available():
        print(f"no CUDA device visible to torch {torch.__version__} (built for CUDA {torch.version.cuda})")
        return 1
    devices = torch.cuda.device_count() if args.accelerator == "gpu" else 2
    name = torch.cuda.get_device_name(0) if args.accelerator == "gpu" else "cpu"
    bf16 = args.accelerator != "gpu" or torch.cuda.is_bf16_supported()
    rows = []
    for model in args.models:
        for batch_size in args.batch_sizes:
            fp32 = throughput(args.data_dir, model, batch_size, "32-true", False, args.accelerator, args.steps)
            cells = [f"{fp32:,.0f}"]
            for precision, compiled in (("bf16-mixed", False), ("32-true", True), ("bf16-mixed", True)):
                if precision == "bf16-mixed" and not bf16:
                    cells.append("bf16 unsupported")
                    continue
                try:
                    rate = throughput(args.data_dir, model, batch_size, precision, compiled, args.accelerator, args.steps)
                    cells.append(f"{rate:,.0f} ({rate / fp32:.2f}x)")
                except Exception as exc:  # one failing setting must not hide the others' figures
                    cells.append(f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}")
            rows.append((model, batch_size, *cells))
    ddp = ddp_run(args.data_dir, args.accelerator, devices, args.out / "ddp")

    print(f"\ndrivelab GPU check on {devices} x {name}, torch {torch.__version__} (CUDA {torch.version.cuda})")
    print("training throughput, windows/s (vs fp32 at the same batch):")
    print("| model | batch | fp32 | bf16-mixed | compile fp32 | compile bf16-mixed |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(f"| ddp | {devices} {args.accelerator} process(es), 2 epochs | {'ok' if ddp['ok'] else 'FAILED'} | "
          f"{ddp['seconds']:.0f} s | {ddp['detail']} | |")
    failed = not ddp["ok"] or any("FAILED" in str(cell) for row in rows for cell in row)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    sys.exit(main())
