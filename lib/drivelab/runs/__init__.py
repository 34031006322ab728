"""Runs: the one way to build, train and open a run, used by every command, sweep trial, notebook and benchmark.

    from drivelab import runs
    datamodule, model = runs.build(cfg)        # from a validated config (drivelab.config.validate.compose)
    metrics = runs.train(cfg, run_dir)         # fit + test into a run directory
    run = runs.open_run(run_dir)               # config, manifest, metrics, best checkpoint
    model = run.model(); data = run.datamodule(data_dir=other)

Modules: `directory` (the files a run writes), `builder` (data module, model, callbacks, Trainer, the test
procedure), `training` (fit + test + records), `opened` (a run read back), `tracking` (loggers), `logs` (CSV logs
read back). Reading runs imports no torch: `build`, `train` and `test` load theirs on first use.
"""

from __future__ import annotations

from typing import Any

from drivelab.runs.directory import RunDirectory
from drivelab.runs.opened import Run, find_runs, newest_run, open_run

_LAZY = {"build": "drivelab.runs.builder", "build_model": "drivelab.runs.builder", "test": "drivelab.runs.builder",
         "train": "drivelab.runs.training"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:  # these import torch and Lightning: only when asked for
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'drivelab.runs' has no attribute {name!r}")


__all__ = ["Run", "RunDirectory", "build", "build_model", "find_runs", "newest_run", "open_run", "test", "train"]
