"""Windows larger than memory: a data version several times a stated memory limit is built and trained on for one
epoch, each in a fresh process whose peak RssAnon (anonymous memory from /proc/self/status: imports, heap, the model;
not the page cache of the memory-mapped shards) must stay within the limit.

    .venv/bin/python benchmarks/large_data.py                          # limit 768 MiB, windows 3x that (~2.3 GiB)
    .venv/bin/python benchmarks/large_data.py --limit-mib 1024 --factor 4 --work-dir /scratch/large

A few simulated episodes (SUMO when its extra is installed, else highway-env) are ingested and cleaned once; their
track files are then replicated under new recording names until their windows reach `factor` x the limit. The
build runs `drivelab.data.windows.build` with one process; training runs `drivelab.runs.training.train` (the
reference MLP, defaults otherwise, CSV logger, no test pass). Prints one table. A benchmark, not a test.
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
from typing import List

MIB = 2**20
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


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-mib", type=float, default=768, help="memory limit: peak RssAnon of each process")
    parser.add_argument("--factor", type=float, default=3.0, help="windows on disk = factor x the limit")
    parser.add_argument("--episodes", type=int, default=6, help="simulated episodes replicated to the size")
    parser.add_argument("--shard-mb", default="", help="windows.shard_mb of the build (default: conf/windows)")
    parser.add_argument("--work-dir", type=Path, help="folder for the data (default: a temporary folder, removed)")
    parser.add_argument("--probe", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        kind, *paths = args.probe
        result = (measure_build(Path(paths[0]), Path(paths[1]), *paths[2:]) if kind == "build"
                  else measure_train(*map(Path, paths)))
        print(json.dumps(result))
        return

    limit_bytes = int(args.limit_mib * MIB)
    backend = "sumo" if importlib.util.find_spec("sumolib") else "highway_env"
    scratch = Path(args.work_dir or tempfile.mkdtemp(prefix="drivelab-large-"))
    try:
        base = scratch / "base"
        prepare_base(base, args.episodes, backend)
        base_build = probe("build", base / "tracks", base / "windows", args.shard_mb)
        per_copy_bytes = folder_bytes(base / "windows")
        copies = max(1, math.ceil(args.factor * limit_bytes / per_copy_bytes))
        large = scratch / "large"
        (large / "tracks").mkdir(parents=True, exist_ok=True)
        for copy in range(copies):
            for path in sorted((base / "tracks").glob("*.parquet")):
                shutil.copy(path, large / "tracks" / f"{path.stem}_copy{copy:04d}.parquet")
        built = probe("build", large / "tracks", large / "windows", args.shard_mb)
        windows_bytes = folder_bytes(large / "windows")
        trained = probe("train", large, scratch / "run")
    finally:
        if args.work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)

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
