"""`drivelab prepare`: highD-format recordings -> canonical tracks -> windows (the `windows` command's work)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from tqdm import tqdm

from drivelab.atomic import replace_dir
from drivelab.commands import windows
from drivelab.data import highd, tracks
from drivelab.errors import DrivelabError

SOURCE_READERS = {"highd": highd}


def main(cfg: DictConfig, run_dir: Path | None = None) -> None:
    ingest(cfg)
    windows.main(cfg, run_dir)


def ingest(cfg: DictConfig) -> None:
    """Every recording of the source as a canonical track table under paths.data_dir/tracks."""
    if cfg.source.format not in SOURCE_READERS:
        raise DrivelabError(f"source.format={cfg.source.format!r} is not supported; choose one of: {', '.join(SOURCE_READERS)}")
    recordings = highd.find_recordings(Path(cfg.source.path))
    with replace_dir(Path(cfg.paths.data_dir) / "tracks") as staging:
        for recording in tqdm(recordings, desc="tracks", unit="recording"):
            recording_id = f"{cfg.source.name}_{recording.number}"
            tracks.write(highd.read_recording(recording, recording_id), staging / f"{recording_id}.parquet")
