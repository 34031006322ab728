"""Windowing throughput: drivelab's vectorised windows against a straightforward pandas implementation of the same
windowing (checked to produce the same windows), and the speed-up of building with 2 worker processes.

    .venv/bin/python benchmarks/windowing.py                       # simulates 12 episodes into a temporary folder
    .venv/bin/python benchmarks/windowing.py --data-dir data       # uses data/tracks as they are

The build is timed on the recordings repeated `--copies` times (the same tracks under new names), so the worker
pool has seconds of work; its start-up is timed separately (loky keeps the workers for the next call).
Prints one table; nothing is written outside a temporary folder. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd

from drivelab.config.validate import compose
from drivelab.data.tracks import canonical
from drivelab.data.windows.build import build
from drivelab.data.windows.extract import FEATURES, intention_labels, resample, windows_by_recording
from drivelab.data.windows.spec import WindowSpec

SPLIT = {"val_fraction": 0.15, "test_fraction": 0.15, "seed": 0}


def pandas_windows(table: pd.DataFrame, spec: WindowSpec, max_windows: int) -> Dict[str, np.ndarray]:
    """The same windows, one at a time with pandas lookups (what one writes first); stops after `max_windows`."""
    sampled = resample(table, spec.sample_hz)
    history, future, neighbours, masks, track_ids, frames, intentions = [], [], [], [], [], [], []
    for _, road in sampled.groupby("driving_direction", sort=True):
        at_step = {step: rows for step, rows in road.groupby("step")}
        by_track = {track_id: rows.set_index("step") for track_id, rows in road.groupby("track_id", sort=True)}
        for track_id, track in by_track.items():
            for t in track.index:
                if t % spec.stride_steps:
                    continue
                span = track.reindex(range(t - spec.history_steps + 1, t + spec.future_steps + 1))
                if span["x_m"].isna().any():
                    continue
                origin = span.loc[t, ["x_m", "y_m"]].to_numpy(float)
                past = span.loc[: t, list(FEATURES)].to_numpy(float)
                past[:, :2] -= origin
                ahead = span.loc[t + 1 :, ["x_m", "y_m"]].to_numpy(float) - origin
                now = at_step[t]
                others = now[now["track_id"] != track_id].assign(
                    distance=np.hypot(now["x_m"] - origin[0], now["y_m"] - origin[1]))
                others = others[others["distance"] <= spec.neighbour_radius_m]
                others = others.sort_values(["distance", "track_id"], kind="stable").head(spec.max_neighbours)
                slots = np.zeros((spec.max_neighbours, spec.history_steps, len(FEATURES)))
                mask = np.zeros((spec.max_neighbours, spec.history_steps), bool)
                for slot, other_id in enumerate(others["track_id"]):
                    other = by_track[other_id].reindex(range(t - spec.history_steps + 1, t + 1))[list(FEATURES)]
                    seen = other["x_m"].notna().to_numpy()
                    values = other.to_numpy(float)
                    values[:, :2] -= origin
                    slots[slot, seen] = values[seen]
                    mask[slot] = seen
                lanes = span["lane"].to_numpy()
                present_lane = lanes[spec.history_steps - 1 : spec.history_steps]
                upcoming = lanes[spec.history_steps : spec.history_steps + spec.intention_steps][None, :]
                history.append(past), future.append(ahead), neighbours.append(slots), masks.append(mask)
                track_ids.append(track_id), frames.append(int(span.loc[t, "frame"]))
                intentions.append(intention_labels(present_lane, upcoming)[0])
                if len(history) >= max_windows:
                    break
            if len(history) >= max_windows:
                break
        if len(history) >= max_windows:
            break
    return {"history": np.array(history, np.float32), "future": np.array(future, np.float32),
            "neighbours": np.array(neighbours, np.float32), "neighbour_mask": np.array(masks),
            "track_id": np.array(track_ids), "frame": np.array(frames), "intention": np.array(intentions, np.int8)}


def same_windows(reference: Dict[str, np.ndarray], vectorised: Dict[str, np.ndarray]) -> bool:
    """Whether every pandas window is in the vectorised output with the same arrays."""
    index = {(int(t), int(f)): i for i, (t, f) in enumerate(zip(vectorised["track_id"], vectorised["frame"]))}
    rows = [index.get((int(t), int(f))) for t, f in zip(reference["track_id"], reference["frame"])]
    if any(row is None for row in rows):
        return False
    for name in ("history", "future", "neighbours", "neighbour_mask", "intention"):
        if not np.allclose(reference[name], vectorised[name][rows], atol=1e-4):
            return False
    return True


def simulate(data_dir: Path, episodes: int) -> None:
    drivelab = str(Path(sys.executable).with_name("drivelab"))
    for command in (["simulate", f"simulate.episodes={episodes}"], ["ingest"], ["clean"]):
        subprocess.run([drivelab, *command, f"paths.data_dir={data_dir}"], check=True, capture_output=True)


def timed(function, repeats: int = 1) -> float:
    """Best wall-clock seconds of `repeats` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def all_windows(files: List[Path], spec: WindowSpec) -> List[Dict[str, np.ndarray]]:
    return [windows for windows, _ in windows_by_recording(files, spec, range(len(files)), workers=1)]


def run(data_dir: Path | None, episodes: int, pandas_count: int, copies: int) -> Dict[str, object]:
    """Every figure of this benchmark, measured in this one run."""
    spec = WindowSpec.from_config(compose("prepare").windows)  # the settings of conf/windows/default.yaml
    with tempfile.TemporaryDirectory(prefix="drivelab-bench-") as scratch:
        if data_dir is None:
            data_dir = Path(scratch) / "data"
            print(f"simulating {episodes} episodes into {data_dir} ...", flush=True)
            simulate(data_dir, episodes)
        files = canonical.recording_files(Path(data_dir) / "tracks")
        rows = sum(len(canonical.read(path)) for path in files)

        windows = all_windows(files, spec)
        n_windows = sum(len(w["history"]) for w in windows)
        vector_s = timed(lambda: all_windows(files, spec), repeats=3)
        first_s = timed(lambda: all_windows(files[:1], spec), repeats=3)
        started = time.perf_counter()
        reference = pandas_windows(canonical.read(files[0]), spec, pandas_count)
        pandas_s = time.perf_counter() - started
        identical = same_windows(reference, windows[0])

        copies_dir = Path(scratch) / "copies"
        copies_dir.mkdir()
        for copy in range(copies):
            for path in files:
                shutil.copy(path, copies_dir / f"{path.stem}_copy{copy}.parquet")

        def build_with(workers: int) -> None:
            build(copies_dir, Path(scratch) / f"windows_{workers}", spec, SPLIT, 128 * 2**20, workers, min_pool_bytes=0)

        one_s = timed(lambda: build_with(1), repeats=2)
        cold_s = timed(lambda: build_with(2))  # includes starting the two worker processes
        two_s = timed(lambda: build_with(2), repeats=2)  # workers already running
    return {"spec": spec, "recordings": len(files), "rows": rows, "windows": n_windows, "copies": copies,
            "pandas_windows": len(reference["history"]), "pandas_s": pandas_s, "first_windows": len(windows[0]["history"]),
            "first_s": first_s, "vector_s": vector_s, "one_s": one_s, "two_s": two_s, "cold_s": cold_s,
            "identical": identical}


def measure(quick: bool) -> List[Dict[str, object]]:
    """The suite's figures: vectorised windowing vs pandas (per window), and the build with 2 workers vs 1."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _demo_data import demo_data_dir

    r = run(demo_data_dir(), 0, 100 if quick else 200, 4 if quick else 8)
    if not r["identical"]:
        raise AssertionError("the pandas windows differ from the vectorised ones")
    raw = {key: (round(value, 4) if isinstance(value, float) else value) for key, value in r.items() if key != "spec"}
    pandas_rate, first_rate = r["pandas_windows"] / r["pandas_s"], r["first_windows"] / r["first_s"]
    return [
        {"name": "windowing_vectorised_vs_pandas", "what": "windowing one recording: vectorised vs pandas (windows/s)",
         "ratio": first_rate / pandas_rate, "goal": None, "better": "higher", "raw": raw},
        # Demo recordings are windowed in ~20 ms each, too little work to split; benchmarks/pipeline.py times the
        # build's 2-worker phase on recordings of realistic size against the goal.
        {"name": "windowing_build_2_workers_vs_1",
         "what": "`drivelab windows` build of demo recordings: 2 workers vs 1 (pool started)",
         "ratio": r["one_s"] / r["two_s"], "goal": None, "better": "higher", "raw": raw},
    ]


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a data folder with tracks/ (default: simulate into a temp folder)")
    parser.add_argument("--episodes", type=int, default=12, help="episodes to simulate when no --data-dir is given")
    parser.add_argument("--pandas-windows", type=int, default=200, help="windows the pandas version builds (it is slow)")
    parser.add_argument("--copies", type=int, default=8, help="times the recordings are repeated for the build timing")
    args = parser.parse_args(argv)
    r = run(args.data_dir, args.episodes, args.pandas_windows, args.copies)
    spec, n_windows, one_s, two_s, cold_s = r["spec"], r["windows"], r["one_s"], r["two_s"], r["cold_s"]
    build_windows = n_windows * args.copies
    pandas_rate = r["pandas_windows"] / r["pandas_s"]
    rows_out = [
        (f"pandas, one window at a time ({r['pandas_windows']} windows of recording 1)", pandas_rate),
        (f"drivelab vectorised, recording 1 ({r['first_windows']} windows)", r["first_windows"] / r["first_s"]),
        (f"drivelab vectorised, all {r['recordings']} recordings (read + window), 1 process", n_windows / r["vector_s"]),
        (f"`drivelab windows` build of {r['recordings'] * args.copies} recordings (read, window, shard, stats), 1 process",
         build_windows / one_s),
        ("the same build, 2 worker processes (pool already started)", build_windows / two_s),
        ("the same build, 2 worker processes, counting their start-up", build_windows / cold_s),
    ]
    print(f"\n{r['recordings']} recordings, {r['rows']} track rows, {n_windows} windows "
          f"({spec.history_steps} history + {spec.future_steps} future steps, {spec.max_neighbours} neighbour slots)")
    print("| what | windows/s | vs pandas |")
    print("|---|---|---|")
    for label, rate in rows_out:
        print(f"| {label} | {rate:,.0f} | {rate / pandas_rate:,.0f}x |")
    print(f"2-worker speed-up of the build: {one_s / two_s:.2f}x ({one_s:.2f} s -> {two_s:.2f} s); "
          f"{one_s / cold_s:.2f}x counting the pool's start-up ({cold_s:.2f} s)")
    print(f"pandas windows identical to the vectorised ones: {r['identical']}")


if __name__ == "__main__":
    main()
