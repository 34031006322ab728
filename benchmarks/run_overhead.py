"""Per-run fixed cost: what a run costs beyond its training steps, with a model that has nothing to train
(`drivelab train model=cv`), each arm a fresh process as a user starts it, arms interleaved in rounds, timed in CPU
seconds of the command and the processes it waited for (its wall time on an idle machine, far steadier on a shared
one; W&B's own service process is not among them):

- `imports`: a process that imports what a run needs (torch, Lightning, drivelab's run seam) and exits: unavoidable;
- `run_csv`: `drivelab train model=cv logger=csv` (run directory, lineage, data hash, test, report with plots);
- `run_default`: the same with the default loggers (W&B offline + CSV);
- `run_no_plots`: `run_csv` with `report_plots=false` (what a sweep trial or a comparison does).

Goal: everything beyond the unavoidable imports <= 2 s on demo data (ratio: (run_csv - imports) / 2 s). Beside it the
data version's hash of the demo windows, cold (every file read) and warm (cached by size, mtime and inode), and the
same for a windows folder 8x larger: cached, the cost is a stat per file, not a read of every byte.

    .venv/bin/python benchmarks/run_overhead.py [--quick]     # or through the suite: make bench
"""

from __future__ import annotations

import resource
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _demo_data import demo_data_dir  # noqa: E402

from drivelab import lineage  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 2.0
IMPORTS = "import drivelab.runs.training, drivelab.models.physics, drivelab.data.windows.datamodule"


def seconds(argv: List[str], env: Dict[str, str]) -> float:
    """CPU seconds (user + system) of the command and every process it waited for; on an idle machine about its
    wall time, on a shared one far steadier."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def hash_seconds(windows: Path, cache_dir: Path) -> Dict[str, float]:
    os.environ["DRIVELAB_CACHE_DIR"] = str(cache_dir)
    shutil.rmtree(cache_dir, ignore_errors=True)
    cold = timed(lambda: lineage.dvc_dir_md5(windows))
    warm = min(timed(lambda: lineage.dvc_dir_md5(windows)) for _ in range(3))
    return {"cold_s": cold, "warm_s": warm, "mb": sum(p.stat().st_size for p in windows.rglob("*") if p.is_file()) / 2**20}


def measure(quick: bool) -> List[Dict[str, Any]]:
    rounds = 2 if quick else 5
    data_dir = demo_data_dir()
    with tempfile.TemporaryDirectory(prefix="drivelab-overhead-") as scratch:
        work = Path(scratch)
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "DRIVELAB_CACHE_DIR": str(work / "cache")}
        train = [sys.executable, "-m", "drivelab", "train", "model=cv", f"paths.data_dir={data_dir}",
                 "trainer.enable_progress_bar=false"]
        arms = {"imports": [sys.executable, "-c", IMPORTS],
                "run_csv": [*train, "logger=csv"],
                "run_default": train,
                "run_no_plots": [*train, "logger=csv", "report_plots=false"]}
        times: Dict[str, List[float]] = {name: [] for name in arms}
        for round_number in range(rounds):
            for name, argv in arms.items():
                run_dir = work / f"{name}-{round_number}"
                times[name].append(seconds(argv + ([f"hydra.run.dir={run_dir}"] if name != "imports" else []), env))
        median = {name: statistics.median(values) for name, values in times.items()}

        small = hash_seconds(data_dir / "windows", work / "hash-cache")
        large_dir = work / "windows-x8"
        for copy in range(8):
            shutil.copytree(data_dir / "windows", large_dir / f"copy{copy}")
        large = hash_seconds(large_dir, work / "hash-cache-large")

    beyond = median["run_csv"] - median["imports"]
    raw: Dict[str, Any] = {f"{name}_s": round(value, 3) for name, value in median.items()}
    raw.update(beyond_imports_s=round(beyond, 3), wandb_start_s=round(median["run_default"] - median["run_csv"], 3),
               plots_s=round(median["run_csv"] - median["run_no_plots"], 3), rounds=rounds,
               hash_demo_mb=round(small["mb"], 1), hash_demo_cold_s=round(small["cold_s"], 4),
               hash_demo_warm_s=round(small["warm_s"], 4), hash_8x_mb=round(large["mb"], 1),
               hash_8x_cold_s=round(large["cold_s"], 4), hash_8x_warm_s=round(large["warm_s"], 4))
    return [
        {"name": "run_overhead_beyond_imports_vs_2s",
         "what": f"`drivelab train model=cv` beyond the unavoidable imports / 2 s budget ({beyond:.2f} s)",
         "ratio": beyond / BUDGET_S, "goal": 1.0, "better": "lower", "raw": raw},
        {"name": "run_overhead_hash_warm_vs_cold",
         "what": "data version hash of the demo windows, cached vs read", "ratio": small["warm_s"] / small["cold_s"],
         "goal": None, "better": "lower", "raw": raw},
        {"name": "run_overhead_hash_8x_warm_vs_cold",
         "what": "data version hash of windows 8x the demo, cached vs read",
         "ratio": large["warm_s"] / large["cold_s"], "goal": None, "better": "lower", "raw": raw},
    ]


if __name__ == "__main__":
    from suite import run_alone

    run_alone(measure, __doc__)
