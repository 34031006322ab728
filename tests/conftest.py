"""Shared fixtures: one simulated data set and one trained run per test session, made through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent

# Small but real: 8 simulated 40 s episodes (~5k windows), split 6/1/1 by recording.
SIM_OVERRIDES = ["simulate.episodes=8", "simulate.duration_s=40", "simulate.workers=2"]
TRAIN_OVERRIDES = ["model=mlp", "trainer.max_epochs=4", "data.batch_size=128", "trainer.enable_progress_bar=false",
                   "trainer.enable_model_summary=false"]


def cli_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["WANDB_MODE"] = "offline"
    env["WANDB_SILENT"] = "true"
    env.pop("DRIVELAB_ROOT", None)
    env.update(extra)
    return env


def drivelab(*args: str, cwd: Path | None = None, check: bool = True, env: Dict[str, str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `drivelab` CLI in a subprocess."""
    done = subprocess.run([str(BIN_DIR / "drivelab"), *args], cwd=cwd or PROJECT_ROOT, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"drivelab {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def sim_data_dir(tmp_path_factory) -> Path:
    """Simulated recordings and prepared windows."""
    data_dir = tmp_path_factory.mktemp("data")
    drivelab("simulate", f"paths.data_dir={data_dir}", *SIM_OVERRIDES)
    drivelab("prepare", f"paths.data_dir={data_dir}")
    return data_dir


def train(data_dir: Path, run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return drivelab("train", f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}", *TRAIN_OVERRIDES, *overrides)


@pytest.fixture(scope="session")
def trained_run(sim_data_dir, tmp_path_factory) -> Path:
    """One MLP run with the default loggers (W&B offline + CSV)."""
    run_dir = tmp_path_factory.mktemp("runs") / "mlp"
    train(sim_data_dir, run_dir)
    return run_dir


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())

