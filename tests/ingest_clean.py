"""Run the ingest and clean steps in this process on fixture files and read back everything they wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from drivelab.data.tracks import canonical, clean, ingest


@dataclass
class Cleaned:
    tracks: pd.DataFrame  # every kept row of every recording
    quarantine: pd.DataFrame
    report: dict
    data_dir: Path

    def reasons(self) -> dict:
        return {reason: count for reason, count in self.report["quarantined_rows"].items() if count}


def ingest_and_clean(source_path: Path, data_dir: Path, source_format: str = "highd", name: str = "rec",
                     workers: int = 1, max_jump_m: float = 3.0) -> Cleaned:
    ingest.ingest(data_dir, source_format, name, str(source_path), workers)
    clean.clean(data_dir, max_jump_m, workers)
    files = sorted((data_dir / "tracks").glob("*.parquet"))
    kept = pd.concat([canonical.read(path) for path in files], ignore_index=True) if files else pd.DataFrame()
    return Cleaned(kept, pd.read_parquet(data_dir / clean.QUARANTINE_FILE),
                   json.loads((data_dir / clean.REPORT_FILE).read_text()), data_dir)
