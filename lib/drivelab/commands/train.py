"""`drivelab train`: train and test a model as configured, into a run directory (see `drivelab.runs`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict

from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only

from drivelab.monitoring.records import read_health
from drivelab.runs.interrupt import RunInterrupted
from drivelab.runs.training import train


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, float]:
    if rank_zero_only.rank == 0:
        print(f"run directory: {Path(run_dir).resolve()}", flush=True)
    try:
        metrics = train(cfg, run_dir)
    except RunInterrupted as stopped:
        if rank_zero_only.rank == 0:
            print(f"drivelab train: interrupted ({stopped.signal_name}); run directory: {stopped.run_dir}\n"
                  f"resume it with: {stopped.resume_command()}", file=sys.stderr, flush=True)
        raise
    if rank_zero_only.rank == 0:
        if metrics:
            print("test: " + "  ".join(f"{name.split('/', 1)[1]} {value:.3f}" for name, value in metrics.items()))
        health = read_health(Path(run_dir))
        if health and health.get("verdict"):
            print(f"health: {health['verdict']}; see health.png")
        print(f"run directory: {Path(run_dir).resolve()}")
    return metrics
