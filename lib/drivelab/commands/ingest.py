"""`drivelab ingest`: the source's recordings (cfg.source) -> raw canonical tracks under paths.data_dir/tracks_raw."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.data.lock import data_dir_lock
from drivelab.data.tracks import ingest
from drivelab.pool import PoolSettings


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    with data_dir_lock(Path(cfg.paths.data_dir), "ingest", cfg.lock_timeout_s):
        data_dir = Path(cfg.paths.data_dir)
        summary = ingest.ingest(data_dir, cfg.source.format, cfg.source.name, cfg.source.path,
                                PoolSettings.from_config(cfg.clean, "clean"))
        ingest.print_summary(summary, data_dir / ingest.RAW_DIR_NAME)
        return summary
