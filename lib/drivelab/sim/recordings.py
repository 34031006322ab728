"""Simulated episodes written as highD recordings XX_tracks.csv, XX_tracksMeta.csv, XX_recordingMeta.csv: one
recording per episode, episodes in parallel worker processes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

from drivelab.atomic import replace_dir, write_json
from drivelab.errors import DrivelabError

RECORDING_PATTERNS = ("*_tracks.csv", "*_tracksMeta.csv", "*_recordingMeta.csv")
WRITTEN_FILE = ".simulated.json"  # the files drivelab simulate wrote: the only ones a later run may replace


def write_recordings(raw_dir: Path, episodes: int, seed: int, workers: int, *, duration_s: float, sample_hz: int,
                     lanes: int, vehicles: int, speed_range_mps: Sequence[float], randomize_behavior: bool,
                     truck_fraction: float, road_length_m: float) -> Tuple[int, int]:
    """Recordings 1..episodes in raw_dir (episode i uses seed + i - 1), replacing those of an earlier run and keeping
    files it did not write; returns (rows, vehicles) over all episodes. The files are the same for any number of
    workers."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    raw_dir = Path(raw_dir)
    kept = check_foreign_files(raw_dir)
    # Plain Python values: they are pickled to the worker processes.
    episode = dict(duration_s=float(duration_s), sample_hz=int(sample_hz), lanes=int(lanes), vehicles=int(vehicles),
                   speed_range_mps=[float(v) for v in speed_range_mps], randomize_behavior=bool(randomize_behavior),
                   truck_fraction=float(truck_fraction), road_length_m=float(road_length_m))
    # A fresh folder replaces raw_dir whole once every recording is written: an interrupted run leaves the previous
    # recordings as they were, never a mix or a subset that `ingest` would accept.
    with replace_dir(raw_dir) as staging:
        jobs = (delayed(simulate_recording)(recording_id, int(seed) + recording_id - 1, staging, episode)
                for recording_id in range(1, int(episodes) + 1))
        # Each episode depends only on its seed, so results are the same for any number of workers.
        results = Parallel(n_jobs=int(workers), backend="loky", return_as="generator")(jobs)
        rows = vehicle_count = 0
        for episode_rows, episode_vehicles in tqdm(results, total=int(episodes), desc="simulate", unit="episode",
                                                   file=sys.stderr):
            rows += episode_rows
            vehicle_count += episode_vehicles
        written = sorted(path.name for path in staging.iterdir())
        write_json(staging / WRITTEN_FILE, {"written_by": "drivelab simulate", "files": written})
        for path in kept:  # another name for the same file: nothing is copied, and nothing is lost if interrupted
            os.link(path, staging / path.name)
    return rows, vehicle_count


def check_foreign_files(raw_dir: Path) -> List[Path]:
    """The files in raw_dir that an earlier `drivelab simulate` did not write (kept as they are); refuses, naming
    one, when any of them is a recording (replacing or mixing with real data) or a folder."""
    if not raw_dir.is_dir():
        return []
    record = raw_dir / WRITTEN_FILE
    ours = set(json.loads(record.read_text()).get("files", [])) if record.is_file() else set()
    foreign = sorted(path for path in raw_dir.iterdir() if path.name not in ours and path.name != WRITTEN_FILE)
    for path in foreign:
        if not path.is_file() or any(path.match(pattern) for pattern in RECORDING_PATTERNS):
            raise DrivelabError(f"{path} was not written by drivelab simulate; simulating into {raw_dir} would "
                                "replace or mix with it: move it away, or simulate into another folder with "
                                "paths.data_dir=DIR")
    return foreign


def simulate_recording(recording_id: int, seed: int, raw_dir: Path, episode_kwargs: dict) -> Tuple[int, int]:
    """Simulate one episode and write it as recording `recording_id`; returns (rows, vehicles)."""
    from drivelab.sim.highd_writer import write_highd_recording
    from drivelab.sim.traffic import simulate_episode

    tracks = simulate_episode(seed, **episode_kwargs)
    write_highd_recording(tracks, raw_dir, recording_id, road_length_m=episode_kwargs["road_length_m"],
                          lanes=episode_kwargs["lanes"], sample_hz=episode_kwargs["sample_hz"])
    return len(tracks), int(tracks["vehicle_id"].nunique())
