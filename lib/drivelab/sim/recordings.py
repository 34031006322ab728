"""Simulated episodes written as highD recordings XX_tracks.csv, XX_tracksMeta.csv, XX_recordingMeta.csv: one
recording per episode, episodes in parallel worker processes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence, Tuple, Union

from drivelab.pool import PoolSettings, run_tasks

# Only files matching these are ours to replace; anything else in the folder is left alone.
RECORDING_PATTERNS = ("*_tracks.csv", "*_tracksMeta.csv", "*_recordingMeta.csv")


def write_recordings(raw_dir: Path, episodes: int, seed: int, workers: Union[int, PoolSettings], *, duration_s: float, sample_hz: int,
                     lanes: int, vehicles: int, speed_range_mps: Sequence[float], randomize_behavior: bool,
                     truck_fraction: float, road_length_m: float) -> Tuple[int, int]:
    """Recordings 1..episodes in raw_dir (episode i uses seed + i - 1), replacing those of an earlier run; returns
    (rows, vehicles) over all episodes. The files are the same for any number of workers, local or on Dask."""
    from tqdm import tqdm

    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    removed = remove_recordings(raw_dir)
    if removed:
        print(f"removed {removed} files of a previous simulation from {raw_dir}", file=sys.stderr)
    # Plain Python values: they are pickled to the worker processes.
    episode = dict(duration_s=float(duration_s), sample_hz=int(sample_hz), lanes=int(lanes), vehicles=int(vehicles),
                   speed_range_mps=[float(v) for v in speed_range_mps], randomize_behavior=bool(randomize_behavior),
                   truck_fraction=float(truck_fraction), road_length_m=float(road_length_m))
    jobs = [(recording_id, int(seed) + recording_id - 1, raw_dir, episode) for recording_id in range(1, int(episodes) + 1)]
    # Each episode depends only on its seed, so results are the same for any number of workers.
    results = run_tasks(simulate_recording, jobs, workers)
    rows = vehicle_count = 0
    for episode_rows, episode_vehicles in tqdm(results, total=int(episodes), desc="simulate", unit="episode",
                                               file=sys.stderr):
        rows += episode_rows
        vehicle_count += episode_vehicles
    return rows, vehicle_count


def simulate_recording(recording_id: int, seed: int, raw_dir: Path, episode_kwargs: dict) -> Tuple[int, int]:
    """Simulate one episode and write it as recording `recording_id`; returns (rows, vehicles)."""
    from drivelab.sim.highd_writer import write_highd_recording
    from drivelab.sim.traffic import simulate_episode

    tracks = simulate_episode(seed, **episode_kwargs)
    write_highd_recording(tracks, raw_dir, recording_id, road_length_m=episode_kwargs["road_length_m"],
                          lanes=episode_kwargs["lanes"], sample_hz=episode_kwargs["sample_hz"])
    return len(tracks), int(tracks["vehicle_id"].nunique())


def remove_recordings(raw_dir: Path) -> int:
    """Delete highD recording files left in raw_dir by an earlier run; returns how many were removed."""
    stale = sorted({path for pattern in RECORDING_PATTERNS for path in Path(raw_dir).glob(pattern) if path.is_file()})
    for path in stale:
        path.unlink()
    return len(stale)
