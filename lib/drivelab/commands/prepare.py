"""`drivelab prepare`: ingest -> clean -> windows, the three pipeline stages in one command (the same library calls
as `drivelab ingest`, `drivelab clean` and `drivelab windows`)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.data.lock import data_dir_lock
from drivelab.data.tracks import clean, ingest
from drivelab.pool import PoolSettings


def main(cfg: DictConfig, run_dir: Path | None = None) -> None:
    data_dir = Path(cfg.paths.data_dir)
    track_workers = PoolSettings.from_config(cfg.clean, "clean")
    window_workers = PoolSettings.from_config(cfg.windows, "windows")  # checked before any stage writes
    with data_dir_lock(data_dir, "prepare", cfg.lock_timeout_s):
        summary = ingest.ingest(data_dir, cfg.source.format, cfg.source.name, cfg.source.path, track_workers)
        ingest.print_summary(summary, data_dir / ingest.RAW_DIR_NAME)
        report = clean.clean(data_dir, cfg.clean.max_jump_m, track_workers)
        clean.print_summary(report, data_dir)

        from drivelab.data.windows import build  # imports torch: only once the tracks are ready
        from drivelab.data.windows.spec import WindowSpec

        settings = cfg.windows
        info = build.build_data_version(data_dir, WindowSpec.from_config(settings), settings.split, settings.shard_mb,
                                        window_workers)
        build.print_summary(info, data_dir / "windows")
