"""Simulated episodes written as highD recordings XX_tracks.csv, XX_tracksMeta.csv, XX_recordingMeta.csv: one
recording per episode, episodes in parallel worker processes. The simulator is a choice (`SIMULATORS`): highway-env
(the default) or Eclipse SUMO."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import List, Sequence, Tuple, Union

from drivelab.atomic import replace_dir, write_json
from drivelab.errors import DrivelabError
from drivelab.pool import PoolSettings, run_tasks

RECORDING_PATTERNS = ("*_tracks.csv", "*_tracksMeta.csv", "*_recordingMeta.csv")
WRITTEN_FILE = ".simulated.json"  # the files drivelab simulate wrote: the only ones a later run may replace
# simulate.backend -> (the module whose simulate_episode runs an episode, the package it needs, how to install it)
SIMULATORS = {
    "highway_env": ("drivelab.sim.traffic", "highway_env", "pip install -e ."),
    "sumo": ("drivelab.sim.sumo_traffic", "sumolib", "pip install -e '.[sumo]'"),
}


def check_simulator(backend: str) -> None:
    """Fail in one line, before anything is written, on an unknown simulator or one that is not installed."""
    if backend not in SIMULATORS:
        raise DrivelabError(f"simulate.backend={backend!r} is not a simulator; choose one of: {', '.join(SIMULATORS)}")
    _, package, install = SIMULATORS[backend]
    if importlib.util.find_spec(package) is None:
        raise DrivelabError(f"simulate.backend={backend} needs the {package} package: {install}")


def write_recordings(raw_dir: Path, episodes: int, seed: int, workers: Union[int, PoolSettings], *,
                     duration_s: float, sample_hz: int,
                     lanes: int, vehicles: int, speed_range_mps: Sequence[float], randomize_behavior: bool,
                     truck_fraction: float, road_length_m: float, backend: str = "highway_env") -> Tuple[int, int]:
    """Recordings 1..episodes in raw_dir (episode i uses seed + i - 1) simulated by `backend`, replacing those of an
    earlier run and keeping files it did not write; returns (rows, vehicles) over all episodes. The files are the
    same for any number of workers, local or on Dask."""
    from tqdm import tqdm

    check_simulator(backend)
    raw_dir = Path(raw_dir)
    kept = check_foreign_files(raw_dir)
    # Plain Python values: they are pickled to the worker processes.
    episode = dict(duration_s=float(duration_s), sample_hz=int(sample_hz), lanes=int(lanes), vehicles=int(vehicles),
                   speed_range_mps=[float(v) for v in speed_range_mps], randomize_behavior=bool(randomize_behavior),
                   truck_fraction=float(truck_fraction), road_length_m=float(road_length_m))
    # A fresh folder replaces raw_dir whole once every recording is written: an interrupted run leaves the previous
    # recordings as they were, never a mix or a subset that `ingest` would accept.
    with replace_dir(raw_dir) as staging:
        jobs = [(recording_id, int(seed) + recording_id - 1, staging, episode, backend)
                for recording_id in range(1, int(episodes) + 1)]
        # Each episode depends only on its seed, so results are the same for any number of workers.
        results = run_tasks(simulate_recording, jobs, workers)
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


def simulate_recording(recording_id: int, seed: int, raw_dir: Path, episode_kwargs: dict,
                       backend: str = "highway_env") -> Tuple[int, int]:
    """Simulate one episode with `backend` and write it as recording `recording_id`; returns (rows, vehicles)."""
    from drivelab.sim.highd_writer import write_highd_recording

    simulator = importlib.import_module(SIMULATORS[backend][0])
    tracks = simulator.simulate_episode(seed, **episode_kwargs)
    write_highd_recording(tracks, raw_dir, recording_id, road_length_m=episode_kwargs["road_length_m"],
                          lanes=episode_kwargs["lanes"], sample_hz=episode_kwargs["sample_hz"])
    return len(tracks), int(tracks["vehicle_id"].nunique())
