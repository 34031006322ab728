"""`drivelab windows`: canonical tracks (paths.data_dir/tracks) -> a data version of training windows
(paths.data_dir/windows), with the settings of cfg.windows."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.data.lock import data_dir_lock
from drivelab.data.windows import build
from drivelab.data.windows.spec import WindowSpec
from drivelab.pool import PoolSettings


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    with data_dir_lock(Path(cfg.paths.data_dir), "windows", cfg.lock_timeout_s):
        data_dir, settings = Path(cfg.paths.data_dir), cfg.windows
        info = build.build_data_version(data_dir, WindowSpec.from_config(settings), settings.split, settings.shard_mb,
                                        PoolSettings.from_config(settings, "windows"))
        build.print_summary(info, data_dir / "windows")
        return info
