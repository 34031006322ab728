"""`drivelab demo` (`make demo`): run the DVC pipeline simulate -> prepare -> train -> evaluate as an experiment,
then print the comparison of the trained model with constant velocity on the test split and what to try next."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO, List

from drivelab import console
from drivelab.evaluation.compare import EVAL_FILE, eval_table
from drivelab.config.validate import conf_dir

EVALUATION = Path("reports") / "evaluate" / EVAL_FILE
TRAIN_RUN = Path("models") / "train"

# The experiments table with the columns a person compares (metrics and the model's name), narrow enough for a
# 120-column terminal; without --drop it has hundreds of columns (every parameter and dependency hash).
# DVC matches these patterns at the start of a column's name: `test/...` is the trained model's metrics.json.
EXP_SHOW = "dvc exp show --no-pager --drop '.*' --keep 'Experiment|model\\._target_|test/(rmse_5s|miss_rate)$'"

# What a user would try next, printed last.
NEXT_STEPS = (
    ("look at the run in a notebook", "make lab   (then notebooks/error_analysis.ipynb; DRIVELAB_RUN_DIR=models/train)"),
    ("train another model", "drivelab train model=gru"),
    ("compare the experiments", EXP_SHOW),
)

# DVC's note, on a first run, that outputs not yet produced have no hash to check out: nothing to act on.
DVC_NOISE = re.compile(rb"^WARNING: No file hash info found for .* It won't be created\.\s*$")


def main(argv: List[str]) -> None:
    root = conf_dir().parent
    if subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        raise SystemExit(f"drivelab demo: {root} must be a git checkout with at least one commit (DVC experiments need one)")
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    env = dict(os.environ)
    # Every stage sizes torch to the cores free now, so a demo beside another job slows by about 2x, not 4x.
    env.setdefault(console.THREADS_ENV, str(console.free_cores()))
    env.setdefault("WANDB_SILENT", "true")
    print(f"torch threads per stage: {env[console.THREADS_ENV]} (set {console.THREADS_ENV} to choose)", flush=True)
    started = time.perf_counter()
    # `dvc exp run` composes conf/ into params.yaml (Hydra), runs only the stages whose inputs changed, records an experiment.
    verbose = console.verbose_requested()
    process = subprocess.Popen([dvc, "exp", "run", *argv], cwd=root, env=env,
                               stderr=None if verbose else subprocess.PIPE)
    if not verbose:
        _copy_without_noise(process.stderr, sys.stderr.buffer)
    if process.wait() != 0:
        raise SystemExit(f"drivelab demo: `dvc exp run` failed (exit {process.returncode}); see the stage output above")
    results = json.loads((root / EVALUATION).read_text())
    manifest = json.loads((root / TRAIN_RUN / "manifest.json").read_text())
    print()
    print(eval_table(results, manifest))
    print(f"pipeline finished in {time.perf_counter() - started:.0f} s; run directory: {root / TRAIN_RUN}")
    print()
    print("next:")
    width = max(len(what) for what, _ in NEXT_STEPS)
    for what, command in NEXT_STEPS:
        print(f"  {what + ':':<{width + 1}} {command}")


def _copy_without_noise(source: BinaryIO, target: BinaryIO) -> None:
    """Pass the stream through as it comes (progress bars redraw with \\r), minus whole lines matching DVC_NOISE."""
    pending = b""
    for chunk in iter(lambda: source.read1(65536), b""):
        pending += chunk
        while True:
            cut = min((i for i in (pending.find(b"\n"), pending.find(b"\r")) if i >= 0), default=-1)
            if cut < 0:
                break
            piece, pending = pending[:cut + 1], pending[cut + 1:]
            if not DVC_NOISE.match(piece):
                target.write(piece)
                target.flush()
    if pending and not DVC_NOISE.match(pending):
        target.write(pending)
        target.flush()
