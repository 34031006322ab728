"""A fixed list of training runs (each a `drivelab train` composition into its own run directory) shared by worker
processes that take the next unstarted run until none is left; long and short runs balance themselves.

The sweep's Optuna workers decide their trials as they go; here every run is known up front (`drivelab compare`).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from drivelab.sweep.processes import WorkersFailed, run_in_processes


@dataclass(frozen=True)
class TrainJob:
    label: str  # what progress lines call it
    overrides: Tuple[str, ...]  # `drivelab train` overrides
    run_dir: str
    wandb_group: Optional[str] = None  # the W&B group of the run, when W&B logs it
    record: Dict[str, Any] = field(default_factory=dict)  # written into the manifest once the run completed


def train_all(jobs: Sequence[TrainJob], n_workers: int, torch_threads: int) -> List[str]:
    """Train every job (`n_workers` processes, `torch_threads` each); returns the labels of the jobs that failed."""
    if not jobs:
        return []
    import importlib
    import multiprocessing

    importlib.import_module("drivelab.runs.training")  # once here, so that forked workers start with it loaded
    n_workers = max(1, min(n_workers, len(jobs)))
    if n_workers == 1:
        _work(list(jobs), None, torch_threads)
    else:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        next_job = context.Value("i", 0)  # shared: the index of the next job nobody has taken
        try:
            run_in_processes(_work, [(list(jobs), next_job, torch_threads) for _ in range(n_workers)], "compare")
        except WorkersFailed as exc:
            print(f"drivelab compare: {exc}", file=sys.stderr, flush=True)
    return [job.label for job in jobs if _status(job) != "completed"]


def _status(job: TrainJob) -> Optional[str]:
    manifest = Path(job.run_dir) / "manifest.json"
    return json.loads(manifest.read_text()).get("status") if manifest.is_file() else None


def _work(jobs: List[TrainJob], next_job: Any, torch_threads: int) -> None:
    import torch

    torch.set_num_threads(torch_threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    while True:
        if next_job is None:
            if not jobs:
                return
            job = jobs.pop(0)
        else:
            with next_job.get_lock():
                index = next_job.value
                next_job.value += 1
            if index >= len(jobs):
                return
            job = jobs[index]
        error = train_one(job)
        if error is not None:
            print(f"drivelab compare: {job.label} failed: {error}", file=sys.stderr, flush=True)


def train_one(job: TrainJob) -> Optional[str]:
    """Train one job; None when it completed, else its error in one line (the run's manifest says `failed`)."""
    import time

    from drivelab.config.validate import compose
    from drivelab.runs import RunDirectory
    from drivelab.runs.training import train

    started = time.perf_counter()
    try:
        cfg = compose("train", job.overrides)
        if job.wandb_group and cfg.get("logger") and cfg.logger.get("wandb"):
            cfg.logger.wandb.group = job.wandb_group
        train(cfg, Path(job.run_dir), report_plots=False)
    except Exception as exc:  # one failed run must not stop the others
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    RunDirectory(Path(job.run_dir)).update_manifest(**job.record)
    print(f"trained {job.label} in {time.perf_counter() - started:.1f} s -> {job.run_dir}", flush=True)
    return None
