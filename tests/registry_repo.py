"""A model registry to test against: a git + DVC repository with a local remote, `.gto` stages and frozen evaluation
windows, plus gated candidates made from the session's trained run."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from conftest import BIN_DIR, drivelab, run_in_repo

# Thresholds a four-epoch model on eight episodes meets (the gate's own tests check each threshold bites), ONNX only.
LOOSE_GATE = ["gate.behaviour.closing_max_overlap_m=200", "gate.behaviour.stopped_max_displacement_m=50",
              "gate.behaviour.free_road_max_speed_change_mps=50", "gate.behaviour.free_road_max_lateral_m=50",
              "gate.metrics.max_lane_change_rmse_5s_m=50", "gate.baseline.min_improvement=-10",
              "gate.metrics.max_rmse_5s_m=50", "gate.metrics.max_dense_rmse_5s_m=50", "gate.metrics.max_miss_rate=1",
              "gate.export.max_p99_ms=10000", "gate.export.formats=[onnx]", "export.formats=[onnx]",
              "export.latency.timed_calls=20", "export.latency.batch_sizes=[1]", "export.parity.batch_sizes=[1,7]"]


def make_registry_repo(root: Path, windows_dir: Path) -> Path:
    repo, remote = root / "repo", root / "dvc-remote"
    repo.mkdir()
    remote.mkdir()
    dvc = str(BIN_DIR / "dvc")
    run_in_repo(repo, "git", "init", "-q")
    run_in_repo(repo, "git", "config", "user.name", "Rita Reviewer")
    run_in_repo(repo, "git", "config", "user.email", "rita@example.org")
    run_in_repo(repo, dvc, "init", "-q")
    run_in_repo(repo, dvc, "remote", "add", "-d", "local", str(remote))
    (repo / ".gto").write_text("types: [model]\nstages: [staging, prod]\n")
    (repo / "data").mkdir()
    run_in_repo(repo, dvc, "stage", "add", "-q", "-n", "windows", "-o", "data/windows",
                f"cp -r {windows_dir} data/windows")
    run_in_repo(repo, dvc, "repro", "-q")
    run_in_repo(repo, "git", "add", "-A")
    run_in_repo(repo, "git", "commit", "-qm", "evaluation data")
    return repo


def copy_run(trained_run: Path, target: Path, weight_noise: float = 0.0) -> Path:
    """A copy of the trained run (without its export and gate report); with `weight_noise`, every weight of its
    checkpoints gets that much Gaussian noise: a deliberately worse model."""
    shutil.copytree(trained_run, target, ignore=shutil.ignore_patterns("export", "gate"))
    if weight_noise:
        generator = torch.Generator().manual_seed(0)
        for checkpoint in (target / "checkpoints").glob("*.ckpt"):
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            for key, value in state["state_dict"].items():
                if value.is_floating_point() and "scaler" not in key.lower():
                    value.add_(torch.randn(value.shape, generator=generator) * weight_noise)
            torch.save(state, checkpoint)
    return target


def promote(repo: Path, run_dir: Path, stage: str, *overrides: str, check: bool = True):
    return drivelab("promote", f"run_dir={run_dir}", f"stage={stage}", f"paths.root_dir={repo}",
                    "reason=test promotion", "gate.data.revision=HEAD", *LOOSE_GATE, *overrides, cwd=repo,
                    check=check)
