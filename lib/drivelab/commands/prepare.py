"""`drivelab prepare`: ingest -> clean -> windows, the three pipeline stages in one command."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.commands import clean, ingest


def main(cfg: DictConfig, run_dir: Path | None = None) -> None:
    ingest.main(cfg, run_dir)
    clean.main(cfg, run_dir)
    from drivelab.commands import windows  # imports torch: only once the tracks are ready

    windows.main(cfg, run_dir)
