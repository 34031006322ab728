"""`drivelab simulate`: simulate highway episodes (cfg.simulate) and write them as highD recordings under
paths.data_dir/raw."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

from drivelab.data.lock import data_dir_lock
from drivelab.sim.recordings import write_recordings


def main(cfg: DictConfig, run_dir: Optional[Path] = None) -> None:
    with data_dir_lock(Path(cfg.paths.data_dir), "simulate", cfg.lock_timeout_s):
        started = time.perf_counter()
        sim = cfg.simulate
        raw_dir = Path(cfg.paths.data_dir) / "raw"
        rows, vehicles = write_recordings(
            raw_dir, sim.episodes, sim.seed, sim.workers, duration_s=sim.duration_s, sample_hz=sim.sample_hz,
            lanes=sim.lanes, vehicles=sim.vehicles, speed_range_mps=list(sim.speed_range_mps),
            randomize_behavior=sim.randomize_behavior, truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
        print(f"simulated {sim.episodes} episodes: {rows} rows, {vehicles} vehicles in "
              f"{time.perf_counter() - started:.1f} s -> {raw_dir}")
