"""Data preparation on a Dask cluster: the same per-recording tasks of `simulate` and `windows` run in 1 local
process, in 2 local worker processes (joblib/loky) and on a Dask cluster of 2 worker processes on this machine,
side by side in one run; the outputs are checked byte-identical.

    .venv/bin/python benchmarks/dask_prepare.py                  # 4 episodes of 20 s, windows of them repeated 6 times
    .venv/bin/python benchmarks/dask_prepare.py --episodes 16 --copies 12
    .venv/bin/python benchmarks/dask_prepare.py --quick          # the suite's figures; or through the suite: make bench

The cluster is started once before the timings (as a team's long-running cluster would be); its start-up is
reported separately; each pool first runs two short episodes, so that every worker has imported the simulator.
Nothing is written outside a temporary folder. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from distributed import LocalCluster

from drivelab.config.validate import compose
from drivelab.data.tracks import canonical, clean, ingest
from drivelab.data.windows.build import build
from drivelab.data.windows.spec import WindowSpec
from drivelab.pool import PoolSettings
from drivelab.sim.recordings import write_recordings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_workers import cpu_parallelism  # noqa: E402

SPLIT = {"val_fraction": 0.15, "test_fraction": 0.15, "seed": 0}
ONE, LOCAL, DASK = "1 local process", "2 local worker processes", "Dask cluster, 2 worker processes"


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def same_tree(a: Path, b: Path) -> bool:
    names_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return names_a == names_b and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a)


def compare_pools(episodes: int, duration_s: float, copies: int) -> Dict[str, Any]:
    """Seconds of simulate and of windows per pool (ONE, LOCAL, DASK), the cluster's start-up, and whether the
    outputs of the three pools are byte-identical."""
    sim = compose("simulate").simulate
    episode = dict(duration_s=duration_s, sample_hz=sim.sample_hz, lanes=sim.lanes, vehicles=sim.vehicles,
                   speed_range_mps=list(sim.speed_range_mps), randomize_behavior=sim.randomize_behavior,
                   truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
    spec = WindowSpec.from_config(compose("prepare").windows)

    started = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    cluster_start_s = time.perf_counter() - started
    pools = {ONE: PoolSettings(workers=1), LOCAL: PoolSettings(workers=2),
             DASK: PoolSettings(workers=2, backend="dask", scheduler=cluster.scheduler_address)}
    simulate_s, windows_s, folders = {}, {}, {}
    try:
        with tempfile.TemporaryDirectory(prefix="drivelab-bench-") as scratch:
            scratch = Path(scratch)
            for label, pool in pools.items():
                folders[label] = scratch / label.replace(" ", "_").replace(",", "")
                write_recordings(scratch / "warm-up", 2, 1000, pool, **{**episode, "duration_s": 2.0})
            for label, pool in pools.items():
                raw_dir = folders[label] / "raw"
                simulate_s[label] = timed(lambda: write_recordings(raw_dir, episodes, 0, pool, **episode))
            # The windows' input: the recordings simulated in one process, cleaned, repeated `copies` times.
            data_dir = scratch / "data"
            ingest.ingest(data_dir, "highd", "sim", str(folders[ONE] / "raw"), 2)
            clean.clean(data_dir, 3.0, 2)
            repeated = scratch / "copies"
            repeated.mkdir()
            for copy in range(copies):
                for path in canonical.recording_files(data_dir / "tracks"):
                    shutil.copy(path, repeated / f"{path.stem}_copy{copy}.parquet")
            for label, pool in pools.items():
                windows_s[label] = timed(lambda: build(repeated, folders[label] / "windows", spec, SPLIT,
                                                       128 * 2**20, pool, min_pool_bytes=0))
            identical = all(same_tree(folders[ONE], folder) for folder in folders.values())
    finally:
        cluster.close()
    return {"simulate_s": simulate_s, "windows_s": windows_s, "cluster_start_s": cluster_start_s,
            "identical": identical}


def measure(quick: bool) -> List[Dict[str, Any]]:
    episodes, duration_s, copies = (2, 20.0, 3) if quick else (4, 20.0, 6)
    parallelism = cpu_parallelism()
    result = compare_pools(episodes, duration_s, copies)
    simulate_s, windows_s = result["simulate_s"], result["windows_s"]
    keys = {ONE: "one_process", LOCAL: "local_2_workers", DASK: "dask_2_workers"}
    raw: Dict[str, Any] = {"episodes": episodes, "duration_s": duration_s, "recordings_windowed": episodes * copies}
    raw.update({f"simulate_{keys[label]}_s": round(value, 3) for label, value in simulate_s.items()})
    raw.update({f"windows_{keys[label]}_s": round(value, 3) for label, value in windows_s.items()})
    raw.update(cluster_start_s=round(result["cluster_start_s"], 2), identical=result["identical"],
               machine_parallelism=round(parallelism, 2))
    if not result["identical"]:
        print("dask_prepare: the three pools' outputs differ", file=sys.stderr)
    return [
        {"name": "dask_simulate_2_workers_vs_1", "what": "simulate: Dask cluster of 2 workers vs 1 local process",
         "ratio": simulate_s[ONE] / simulate_s[DASK], "goal": None, "better": "higher", "raw": raw},
        {"name": "dask_windows_2_workers_vs_1", "what": "windows build: Dask cluster of 2 workers vs 1 local process",
         "ratio": windows_s[ONE] / windows_s[DASK], "goal": None, "better": "higher", "raw": raw},
        {"name": "dask_simulate_vs_local_2_workers", "what": "simulate: Dask cluster of 2 workers vs 2 local workers",
         "ratio": simulate_s[LOCAL] / simulate_s[DASK], "goal": None, "better": "higher", "raw": raw},
        {"name": "dask_windows_vs_local_2_workers",
         "what": "windows build: Dask cluster of 2 workers vs 2 local workers",
         "ratio": windows_s[LOCAL] / windows_s[DASK], "goal": None, "better": "higher", "raw": raw},
    ]


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=4, help="episodes simulated (one task each)")
    parser.add_argument("--duration-s", type=float, default=20.0, help="simulated seconds per episode")
    parser.add_argument("--copies", type=int, default=6, help="times the recordings are repeated for windowing")
    parser.add_argument("--quick", action="store_true", help="the suite's small size; prints its figures")
    args = parser.parse_args(argv)
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return
    result = compare_pools(args.episodes, args.duration_s, args.copies)
    simulate_s, windows_s = result["simulate_s"], result["windows_s"]
    print(f"\n{args.episodes} episodes simulated; windows of {args.episodes * args.copies} recordings")
    print("| pool | simulate s | speed-up | windows s | speed-up |")
    print("|---|---|---|---|---|")
    for label in simulate_s:
        print(f"| {label} | {simulate_s[label]:.2f} | {simulate_s[ONE] / simulate_s[label]:.2f}x | "
              f"{windows_s[label]:.2f} | {windows_s[ONE] / windows_s[label]:.2f}x |")
    print(f"Dask cluster start-up (not in the timings): {result['cluster_start_s']:.2f} s")
    print(f"outputs byte-identical across the three pools: {result['identical']}")


if __name__ == "__main__":
    main()
