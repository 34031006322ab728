"""`drivelab demo` (`make demo`): run the DVC pipeline simulate -> prepare -> train -> evaluate as an experiment,
then print the comparison of the trained model with constant velocity on the test split."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from drivelab.evaluation.compare import EVAL_FILE, eval_table
from drivelab.config.validate import conf_dir

EVALUATION = Path("reports") / "evaluate" / EVAL_FILE
TRAIN_RUN = Path("models") / "train"


def main(argv: List[str]) -> None:
    root = conf_dir().parent
    if subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        raise SystemExit(f"drivelab demo: {root} must be a git checkout with at least one commit (DVC experiments need one)")
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    started = time.perf_counter()
    # `dvc exp run` composes conf/ into params.yaml (Hydra), runs only the stages whose inputs changed, records an experiment.
    done = subprocess.run([dvc, "exp", "run", *argv], cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"drivelab demo: `dvc exp run` failed (exit {done.returncode}); see the stage output above")
    results = json.loads((root / EVALUATION).read_text())
    manifest = json.loads((root / TRAIN_RUN / "manifest.json").read_text())
    print()
    print(eval_table(results, manifest))
    print(f"pipeline finished in {time.perf_counter() - started:.0f} s; run directory: {root / TRAIN_RUN}")
    print("compare experiments with `dvc exp show`; try `dvc exp run -S model=gru`")
