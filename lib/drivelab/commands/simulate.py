"""`drivelab simulate`: simulate highway episodes and write them as highD recordings under data_dir/raw/."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

# Only files matching these are ours to replace; anything else in raw/ is left alone.
RECORDING_PATTERNS = ("*_tracks.csv", "*_tracksMeta.csv", "*_recordingMeta.csv")


def main(cfg: DictConfig, run_dir: Optional[Path] = None) -> None:
    """Write recordings 1..episodes (episode i uses seed + i - 1) in parallel worker processes."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    started = time.perf_counter()
    sim = cfg.simulate
    raw_dir = Path(cfg.paths.data_dir) / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    removed = remove_recordings(raw_dir)
    if removed:
        print(f"removed {removed} files of a previous simulation from {raw_dir}", file=sys.stderr)

    # Plain Python values: they are pickled to the worker processes.
    episode_kwargs = dict(
        duration_s=float(sim.duration_s),
        sample_hz=int(sim.sample_hz),
        lanes=int(sim.lanes),
        vehicles=int(sim.vehicles),
        speed_range_mps=[float(v) for v in sim.speed_range_mps],
        randomize_behavior=bool(sim.randomize_behavior),
        truck_fraction=float(sim.truck_fraction),
        road_length_m=float(sim.road_length_m),
    )
    episodes = int(sim.episodes)
    jobs = (
        delayed(simulate_recording)(recording_id, int(sim.seed) + recording_id - 1, raw_dir, episode_kwargs)
        for recording_id in range(1, episodes + 1)
    )
    # Each episode depends only on its seed, so results are the same for any number of workers.
    results = Parallel(n_jobs=int(sim.workers), backend="loky", return_as="generator")(jobs)
    progress = tqdm(results, total=episodes, desc="simulate", unit="episode", file=sys.stderr)
    rows = vehicles = 0
    for episode_rows, episode_vehicles in progress:
        rows += episode_rows
        vehicles += episode_vehicles
    elapsed_s = time.perf_counter() - started
    print(f"simulated {episodes} episodes: {rows} rows, {vehicles} vehicles in {elapsed_s:.1f} s -> {raw_dir}")


def simulate_recording(recording_id: int, seed: int, raw_dir: Path, episode_kwargs: dict) -> tuple[int, int]:
    """Simulate one episode and write it as recording `recording_id`; returns (rows, vehicles)."""
    from drivelab.sim.highd_writer import write_highd_recording
    from drivelab.sim.traffic import simulate_episode

    tracks = simulate_episode(seed, **episode_kwargs)
    write_highd_recording(
        tracks,
        raw_dir,
        recording_id,
        road_length_m=episode_kwargs["road_length_m"],
        lanes=episode_kwargs["lanes"],
        sample_hz=episode_kwargs["sample_hz"],
    )
    return len(tracks), int(tracks["vehicle_id"].nunique())


def remove_recordings(raw_dir: Path) -> int:
    """Delete highD recording files left in raw_dir by an earlier run; returns how many were removed."""
    stale = sorted({path for pattern in RECORDING_PATTERNS for path in raw_dir.glob(pattern) if path.is_file()})
    for path in stale:
        path.unlink()
    return len(stale)
