"""Data preparation on a Dask cluster: the same per-recording tasks of `simulate` and `windows` run in 1 local
process, in 2 local worker processes (joblib/loky) and on a Dask cluster of 2 worker processes on this machine,
side by side in one run; the outputs are checked byte-identical.

    .venv/bin/python benchmarks/dask_prepare.py                  # 4 episodes of 20 s, windows of them repeated 6 times
    .venv/bin/python benchmarks/dask_prepare.py --episodes 16 --copies 12

The cluster is started once before the timings (as a team's long-running cluster would be); its start-up is
reported separately. Nothing is written outside a temporary folder. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, List

from distributed import LocalCluster

from drivelab.config.validate import compose
from drivelab.data.tracks import canonical, clean, ingest
from drivelab.data.windows.build import build
from drivelab.data.windows.spec import WindowSpec
from drivelab.pool import PoolSettings
from drivelab.sim.recordings import write_recordings

SPLIT = {"val_fraction": 0.15, "test_fraction": 0.15, "seed": 0}


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def same_tree(a: Path, b: Path) -> bool:
    names_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return names_a == names_b and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a)


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=4, help="episodes simulated (one task each)")
    parser.add_argument("--duration-s", type=float, default=20.0, help="simulated seconds per episode")
    parser.add_argument("--copies", type=int, default=6, help="times the recordings are repeated for windowing")
    args = parser.parse_args(argv)
    sim = compose("simulate").simulate
    episode = dict(duration_s=args.duration_s, sample_hz=sim.sample_hz, lanes=sim.lanes, vehicles=sim.vehicles,
                   speed_range_mps=list(sim.speed_range_mps), randomize_behavior=sim.randomize_behavior,
                   truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
    spec = WindowSpec.from_config(compose("prepare").windows)

    started = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    cluster_start_s = time.perf_counter() - started
    pools = {
        "1 local process": PoolSettings(workers=1),
        "2 local worker processes": PoolSettings(workers=2),
        "Dask cluster, 2 worker processes": PoolSettings(workers=2, backend="dask", scheduler=cluster.scheduler_address),
    }
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="drivelab-bench-") as scratch:
            scratch = Path(scratch)
            data_dir = scratch / "data"
            write_recordings(data_dir / "raw", args.episodes, 0, 2, **episode)
            ingest.ingest(data_dir, "highd", "sim", str(data_dir / "raw"), 2)
            clean.clean(data_dir, 3.0, 2)
            copies = scratch / "copies"
            copies.mkdir()
            for copy in range(args.copies):
                for path in canonical.recording_files(data_dir / "tracks"):
                    shutil.copy(path, copies / f"{path.stem}_copy{copy}.parquet")
            for label, pool in pools.items():
                folder = scratch / label.replace(" ", "_").replace(",", "")
                simulate_s = timed(lambda: write_recordings(folder / "raw", args.episodes, 0, pool, **episode))
                windows_s = timed(lambda: build(copies, folder / "windows", spec, SPLIT, 128 * 2**20, pool,
                                                min_pool_bytes=0))
                results[label] = (simulate_s, windows_s, folder)
            reference = results["1 local process"][2]
            identical = all(same_tree(reference, folder) for _, _, folder in results.values())
    finally:
        cluster.close()

    one_sim, one_win, _ = results["1 local process"]
    print(f"\n{args.episodes} episodes simulated; windows of {args.episodes * args.copies} recordings")
    print("| pool | simulate s | speed-up | windows s | speed-up |")
    print("|---|---|---|---|---|")
    for label, (simulate_s, windows_s, _) in results.items():
        print(f"| {label} | {simulate_s:.2f} | {one_sim / simulate_s:.2f}x | {windows_s:.2f} | {one_win / windows_s:.2f}x |")
    print(f"Dask cluster start-up (not in the timings): {cluster_start_s:.2f} s")
    print(f"outputs byte-identical across the three pools: {identical}")


if __name__ == "__main__":
    main()
