"""Shared fixtures: one simulated data set and one trained run per test session, made through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
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


@pytest.fixture(scope="session")
def runs_with_sweep(sim_data_dir, trained_run, tmp_path_factory) -> Path:
    """A runs folder as a researcher has it: the trained MLP run (copied) beside a sweep over two physics baselines."""
    runs_dir = tmp_path_factory.mktemp("runs_with_sweep")
    shutil.copytree(trained_run, runs_dir / "mlp")
    drivelab("train", "-m", "model=cv,ca", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={runs_dir}", "logger=csv",
             "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false")
    return runs_dir


@pytest.fixture(scope="session")
def dvc_experiments_repo(tmp_path_factory) -> Path:
    """A tiny DVC project (one stage, params.yaml, metrics.json) with one named experiment, `fast` (lr=0.3)."""
    repo = tmp_path_factory.mktemp("dvc_experiments")
    (repo / "params.yaml").write_text("lr: 0.1\nmodel:\n  name: mlp\n")
    (repo / "fit.py").write_text("import json, yaml\np = yaml.safe_load(open('params.yaml'))\n"
                                 "json.dump({'test': {'rmse_5s': 1.0 + p['lr']}}, open('metrics.json', 'w'))\n")
    (repo / "dvc.yaml").write_text("stages:\n  fit:\n    cmd: python fit.py\n    deps: [fit.py]\n    params: [lr, model]\n"
                                   "    metrics:\n      - metrics.json:\n          cache: false\n")
    env = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    dvc = str(BIN_DIR / "dvc")
    for command in (["git", "init", "-q"], [dvc, "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "fit"],
                    [dvc, "exp", "run", "-q", "-n", "fast", "-S", "lr=0.3"]):
        subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True, timeout=300)
    return repo


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())



def run_in_repo(repo: Path, *args: str) -> str:
    """Run a command (git, dvc) in a test repository with a committer identity; fail with its output."""
    env = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    done = subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout
