"""Windows larger than memory: a data version several times a stated memory limit is built and trained on for one
epoch, each in a fresh process whose peak RssAnon (anonymous memory from /proc/self/status: imports, heap, the model;
not the page cache of the memory-mapped shards) must stay within the limit.

    .venv/bin/python benchmarks/large_data.py                          # limit 768 MiB, windows 3x that (~2.3 GiB)
    .venv/bin/python benchmarks/large_data.py --limit-mib 1024 --factor 4 --work-dir /scratch/large
    .venv/bin/python benchmarks/large_data.py --quick     # limit 448 MiB, windows 1.1x that; or through the suite

A few simulated episodes (SUMO when its extra is installed, else highway-env) are ingested and cleaned once; their
track files are then replicated under new recording names until their windows reach `factor` x the limit. The
build runs `drivelab.data.windows.build` with one process; training runs `drivelab.runs.training.train` (the
reference MLP, defaults otherwise, CSV logger, no test pass). Prints one table. A benchmark, not a test.

Goal: each process's peak RssAnon within the limit (the suite's ratio: peak / limit <= 1.0).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

MIB = 2**20
FULL = {"limit_mib": 768.0, "factor": 3.0, "episodes": 6}
QUICK = {"limit_mib": 448.0, "factor": 1.1, "episodes": 3}  # the suite's small size: windows still over the limit
TRAIN_OVERRIDES = ["model=mlp", "trainer.max_epochs=1", "logger=csv", "test_after_fit=false",
                   "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def measure_build(tracks_dir: Path, windows_dir: Path, shard_mb: str = "") -> dict:
    """Probe run in a fresh process: the windows build of every track file under tracks_dir (each split's writer
    holds up to one shard of pending windows: about 3 x shard_mb in all)."""
    from drivelab.config.validate import compose
    from drivelab.data.windows.build import build
    from drivelab.data.windows.spec import WindowSpec
    from drivelab.resources import PeakRssAnon

    settings = compose("prepare").windows
    started = time.perf_counter()
    with PeakRssAnon() as peak:
        info = build(tracks_dir, windows_dir, WindowSpec.from_config(settings), settings.split,
                     int(float(shard_mb or settings.shard_mb) * MIB), workers=1)
    return {"peak_bytes": peak.peak_bytes, "seconds": time.perf_counter() - started, "windows": info["summary"]["windows"]}


def measure_train(data_dir: Path, run_dir: Path) -> dict:
    """Probe run in a fresh process: one training epoch (with validation) on data_dir/windows."""
    from drivelab.config.validate import compose
    from drivelab.resources import PeakRssAnon

    with PeakRssAnon() as peak:  # from before the imports of torch and Lightning: the whole process counts
        from drivelab.runs.training import train

        cfg = compose("train", [f"paths.data_dir={data_dir}", *TRAIN_OVERRIDES])
        started = time.perf_counter()
        train(cfg, run_dir)
        seconds = time.perf_counter() - started
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    return {"peak_bytes": peak.peak_bytes, "seconds": seconds, "global_step": manifest.get("global_step")}


def probe(kind: str, *paths) -> dict:
    done = subprocess.run([sys.executable, __file__, "--probe", kind, *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_base(data_dir: Path, episodes: int, backend: str) -> None:
    from drivelab.config.validate import compose
    from drivelab.data.tracks import clean, ingest
    from drivelab.sim.recordings import write_recordings

    sim = compose("simulate").simulate
    write_recordings(data_dir / "raw", episodes, sim.seed, 2, backend=backend, duration_s=sim.duration_s,
                     sample_hz=sim.sample_hz, lanes=sim.lanes, vehicles=sim.vehicles,
                     speed_range_mps=list(sim.speed_range_mps), randomize_behavior=sim.randomize_behavior,
                     truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
    ingest.ingest(data_dir, "highd", "sim", str(data_dir / "raw"), 2)
    clean.clean(data_dir, 3.0, 2)


def run(limit_mib: float, factor: float, episodes: int, shard_mb: str = "",
        work_dir: Path | None = None) -> Dict[str, Any]:
    """Builds windows `factor` x the limit and trains one epoch on them; the probes' results and the sizes."""
    limit_bytes = int(limit_mib * MIB)
    backend = "sumo" if importlib.util.find_spec("sumolib") else "highway_env"
    scratch = Path(work_dir or tempfile.mkdtemp(prefix="drivelab-large-"))
    try:
        base = scratch / "base"
        prepare_base(base, episodes, backend)
        base_build = probe("build", base / "tracks", base / "windows", shard_mb)
        per_copy_bytes = folder_bytes(base / "windows")
        copies = max(1, math.ceil(factor * limit_bytes / per_copy_bytes))
        large = scratch / "large"
        (large / "tracks").mkdir(parents=True, exist_ok=True)
        for copy in range(copies):
            for path in sorted((base / "tracks").glob("*.parquet")):
                shutil.copy(path, large / "tracks" / f"{path.stem}_copy{copy:04d}.parquet")
        built = probe("build", large / "tracks", large / "windows", shard_mb)
        windows_bytes = folder_bytes(large / "windows")
        trained = probe("train", large, scratch / "run")
    finally:
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"limit_bytes": limit_bytes, "backend": backend, "copies": copies, "per_copy_bytes": per_copy_bytes,
            "windows_bytes": windows_bytes, "base_build": base_build, "built": built, "trained": trained}


def measure(quick: bool) -> List[Dict[str, Any]]:
    size = QUICK if quick else FULL
    result = run(**size)
    limit, built, trained, base_build = result["limit_bytes"], result["built"], result["trained"], result["base_build"]
    raw = {**size, "backend": result["backend"], "copies": result["copies"], "windows": built["windows"],
           "windows_mib": round(result["windows_bytes"] / MIB),
           "windows_vs_limit": round(result["windows_bytes"] / limit, 2),
           "reference_build_peak_mib": round(base_build["peak_bytes"] / MIB),
           "build_peak_mib": round(built["peak_bytes"] / MIB), "train_peak_mib": round(trained["peak_bytes"] / MIB),
           "build_s": round(built["seconds"], 1), "train_s": round(trained["seconds"], 1),
           "train_steps": trained["global_step"]}
    times = f"{result['windows_bytes'] / limit:.1f}x"
    return [
        {"name": "large_data_build_peak_vs_limit",
         "what": f"windows build of data {times} the memory limit: peak RssAnon / limit",
         "ratio": built["peak_bytes"] / limit, "goal": 1.0, "better": "lower", "raw": raw},
        {"name": "large_data_train_peak_vs_limit",
         "what": f"one training epoch on windows {times} the memory limit: peak RssAnon / limit",
         "ratio": trained["peak_bytes"] / limit, "goal": 1.0, "better": "lower", "raw": raw},
        # Flat is the point: the build's memory should not follow the data's size.
        {"name": "large_data_build_peak_vs_reference",
         "what": f"windows build peak RssAnon: {size['episodes'] * result['copies']} recordings vs {size['episodes']}",
         "ratio": built["peak_bytes"] / base_build["peak_bytes"], "goal": None, "better": "lower", "raw": raw},
    ]


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-mib", type=float, default=FULL["limit_mib"],
                        help="memory limit: peak RssAnon of each process")
    parser.add_argument("--factor", type=float, default=FULL["factor"], help="windows on disk = factor x the limit")
    parser.add_argument("--episodes", type=int, default=FULL["episodes"],
                        help="simulated episodes replicated to the size")
    parser.add_argument("--shard-mb", default="", help="windows.shard_mb of the build (default: conf/windows)")
    parser.add_argument("--work-dir", type=Path, help="folder for the data (default: a temporary folder, removed)")
    parser.add_argument("--quick", action="store_true", help="the suite's small size; prints its figures")
    parser.add_argument("--probe", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        kind, *paths = args.probe
        result = (measure_build(Path(paths[0]), Path(paths[1]), *paths[2:]) if kind == "build"
                  else measure_train(*map(Path, paths)))
        print(json.dumps(result))
        return
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return

    result = run(args.limit_mib, args.factor, args.episodes, args.shard_mb, args.work_dir)
    limit_bytes, copies, backend = result["limit_bytes"], result["copies"], result["backend"]
    base_build, built, trained = result["base_build"], result["built"], result["trained"]
    windows_bytes, per_copy_bytes = result["windows_bytes"], result["per_copy_bytes"]
    print(f"\n{args.episodes} {backend} episodes x {copies} copies = {built['windows']:,} windows, "
          f"{windows_bytes / MIB:,.0f} MiB on disk = {windows_bytes / limit_bytes:.1f}x the limit of "
          f"{args.limit_mib:,.0f} MiB")
    print("| phase | peak RssAnon MiB | vs limit | within | seconds |")
    print("|---|---|---|---|---|")
    for label, result in ((f"build {args.episodes} recordings (reference)", base_build),
                          (f"build {args.episodes * copies} recordings", built),
                          (f"train 1 epoch ({trained['global_step']} steps) + validation", trained)):
        peak = result["peak_bytes"]
        print(f"| {label} | {peak / MIB:,.0f} | {peak / limit_bytes:.2f}x | {'yes' if peak <= limit_bytes else 'NO'} | "
              f"{result['seconds']:.0f} |")
    print(f"peak growth from {args.episodes} to {args.episodes * copies} recordings while building: "
          f"{(built['peak_bytes'] - base_build['peak_bytes']) / MIB:+,.0f} MiB "
          f"for {(windows_bytes - per_copy_bytes) / MIB:+,.0f} MiB more windows")


if __name__ == "__main__":
    main()
