"""`drivelab simulate`: simulate highway episodes (cfg.simulate) and write them as highD recordings under
paths.data_dir/raw."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

from drivelab.console import counted
from drivelab.data.lock import data_dir_lock
from drivelab.pool import PoolSettings
from drivelab.sim.recordings import check_simulator, write_recordings


def main(cfg: DictConfig, run_dir: Optional[Path] = None) -> None:
    sim = cfg.simulate
    workers = PoolSettings.from_config(sim, "simulate", backend_key="pool")
    check_simulator(sim.backend)
    with data_dir_lock(Path(cfg.paths.data_dir), "simulate", cfg.lock_timeout_s):
        started = time.perf_counter()
        raw_dir = Path(cfg.paths.data_dir) / "raw"
        rows, vehicles = write_recordings(
            raw_dir, sim.episodes, sim.seed, workers, duration_s=sim.duration_s, sample_hz=sim.sample_hz,
            lanes=sim.lanes, vehicles=sim.vehicles, speed_range_mps=list(sim.speed_range_mps),
            randomize_behavior=sim.randomize_behavior, truck_fraction=sim.truck_fraction,
            road_length_m=sim.road_length_m, backend=sim.backend)
        print(f"simulated {counted(sim.episodes, 'episode')} with {sim.backend}: {rows} rows, {vehicles} vehicles in "
              f"{time.perf_counter() - started:.1f} s -> {raw_dir}")
