"""`drivelab clean`: raw canonical tracks -> validated tracks (paths.data_dir/tracks), quarantine.parquet and
clean_report.json beside them."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.data.lock import data_dir_lock
from drivelab.data.tracks import clean
from drivelab.pool import PoolSettings


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    with data_dir_lock(Path(cfg.paths.data_dir), "clean", cfg.lock_timeout_s):
        data_dir = Path(cfg.paths.data_dir)
        report = clean.clean(data_dir, cfg.clean.max_jump_m, PoolSettings.from_config(cfg.clean, "clean"))
        clean.print_summary(report, data_dir)
        return report
