"""The contract between a source reader and cleaning. A reader finds `RecordingFiles` under a source path and reads
each into a `RawRecording`: one recording's canonical rows before validation, the source lines it could not convert
(with their reason), the vehicles the source's meta data declares, and facts about the source.

On disk a raw recording is a folder under paths.data_dir/tracks_raw/<recording_id>/ holding tracks.parquet,
rejected.parquet, vehicles.parquet and facts.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

from drivelab.atomic import write_json
from drivelab.data.tracks import canonical
from drivelab.data.tracks.delimited import ParsedTable, lines_at

# Why a row or a track is quarantined. Row reasons reject single source lines; track reasons reject every row of
# the track. The first group is found while reading the source (ingest), the rest by validation (clean).
REASONS: Dict[str, str] = {
    "unparsable_line": "row: wrong number of fields, or a blank line",
    "non_numeric": "row: a required value is not a number",
    "nan_or_inf": "row: a required value is missing, NaN or infinite",
    "out_of_range": "row: a value outside the declared schema's range (or an id/frame/lane that is not an integer)",
    "not_in_meta": "track: no usable row in the source's vehicle meta file, so direction/class are unknown",
    "not_motor_vehicle": "track: an agent that is not a motor vehicle (pedestrian, bicycle): not predicted here",
    "duplicate_exact": "row: an identical copy of another (track, frame) row; the first copy is kept",
    "duplicate_conflict": "row: several different rows for one (track, frame); none can be trusted",
    "outside_meta_frames": "row: frame outside the initialFrame..finalFrame its meta row declares",
    "direction_mismatch": "track: moves against the driving direction its meta row declares",
    "position_spike": "row: one position far off the track on both sides (a tracking glitch); the row alone goes",
    "position_jump": "track: a position jump far beyond what the speed allows (e.g. an id reused for another vehicle)",
}
TRACK_REASONS = ("not_in_meta", "not_motor_vehicle", "direction_mismatch", "position_jump")

# Per-vehicle facts declared by the source (null where the source does not declare them).
VEHICLE_COLUMNS: Dict[str, str] = {
    "track_id": "int64",
    "declared_first_frame": "Int64",
    "declared_last_frame": "Int64",
    "declared_frames": "Int64",
    "declared_length_m": "Float64",
    "declared_width_m": "Float64",
}
REJECTED_COLUMNS: Dict[str, str] = {
    "source_file": "string",
    "source_line": "Int64",  # 1-based line in source_file
    "track_id": "Int64",
    "frame": "Int64",
    "reason": "string",
    "detail": "string",
    "raw_text": "string",  # the source line as written, when the reader saw it
}


@dataclass(frozen=True)
class RecordingFiles:
    """One recording a reader found: the files it is read from, and the suffix of its id (`<source.name>_<suffix>`),
    taken from the file names so that the id stays the same however many other recordings sit beside it."""

    suffix: str
    files: Tuple[Path, ...]


@dataclass
class RawRecording:
    recording_id: str
    tracks: pd.DataFrame  # canonical columns + source_line
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    vehicles: pd.DataFrame  # VEHICLE_COLUMNS (more columns are ignored)
    facts: dict = field(default_factory=dict)  # format, files, data_lines, frame_rate_hz, declared_vehicles


def conform_rows(tracks: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns in order and dtype, plus the source line of each row; sorted by (track, frame)."""
    lines = tracks["source_line"].to_numpy(np.int64)
    out = tracks[list(canonical.COLUMNS)].astype(canonical.COLUMNS).assign(source_line=lines)
    return out.sort_values(["track_id", "frame", "source_line"], ignore_index=True)


def conform_rejected(rejected: pd.DataFrame) -> pd.DataFrame:
    for name in REJECTED_COLUMNS:
        if name not in rejected.columns:
            rejected = rejected.assign(**{name: pd.NA})
    return rejected[list(REJECTED_COLUMNS)].astype(REJECTED_COLUMNS).reset_index(drop=True)


def conform_vehicles(vehicles: pd.DataFrame) -> pd.DataFrame:
    """VEHICLE_COLUMNS in order and dtype; facts a source does not declare are null."""
    missing = {name: pd.NA for name in VEHICLE_COLUMNS if name not in vehicles.columns}
    return vehicles.assign(**missing)[list(VEHICLE_COLUMNS)].astype(VEHICLE_COLUMNS).reset_index(drop=True)


def integer_columns(parsed: ParsedTable, names: Sequence[str], data: bytes, source_file: str) -> Tuple[np.ndarray, pd.DataFrame]:
    """Rows whose id-like columns are whole numbers >= 0; the others rejected (NaN -> nan_or_inf, else out_of_range)."""
    keep = np.ones(len(parsed), bool)
    reason = np.full(len(parsed), "", dtype=object)
    detail = np.full(len(parsed), "", dtype=object)
    for name in names:
        values = parsed.columns[name]
        missing = ~np.isfinite(values) & keep
        invalid = np.isfinite(values) & ((values != np.round(values)) | (values < 0)) & keep
        reason[missing], detail[missing] = "nan_or_inf", f"column {name!r} is missing or not finite"
        reason[invalid] = "out_of_range"
        detail[invalid] = [f"column {name!r} = {value!r} is not a whole number >= 0" for value in values[invalid]]
        keep &= ~(missing | invalid)
    bad = ~keep
    rejected = pd.DataFrame({
        "source_file": source_file, "source_line": parsed.source_line[bad], "reason": reason[bad],
        "detail": detail[bad], "raw_text": lines_at(data, parsed.source_line[bad]),
    })
    return keep, conform_rejected(rejected)


def time_derivative(track_id: np.ndarray, time_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-track derivative from rows sorted by (track, time): mean of the one-sided slopes; 0 for a lone row."""
    if len(values) < 2:
        return np.zeros(len(values))
    step_s = np.diff(time_s)
    same_track = (track_id[1:] == track_id[:-1]) & (step_s > 0)
    slope = np.where(same_track, np.diff(values) / np.where(same_track, step_s, 1.0), np.nan)
    before = np.concatenate([[np.nan], slope])
    after = np.concatenate([slope, [np.nan]])
    both = np.stack([before, after])
    count = np.isfinite(both).sum(axis=0)
    total = np.where(np.isfinite(both), both, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def parse_rejects(parsed: ParsedTable, source_file: str) -> pd.DataFrame:
    return conform_rejected(parsed.rejected.assign(source_file=source_file))


def write(raw: RawRecording, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    conform_rows(raw.tracks).to_parquet(folder / "tracks.parquet", index=False)
    conform_rejected(raw.rejected).to_parquet(folder / "rejected.parquet", index=False)
    conform_vehicles(raw.vehicles).to_parquet(folder / "vehicles.parquet", index=False)
    write_json(folder / "facts.json", {"recording_id": raw.recording_id, **raw.facts})


def read(folder: Path) -> RawRecording:
    facts = json.loads((folder / "facts.json").read_text())
    tracks = pd.read_parquet(folder / "tracks.parquet")
    tracks = tracks.astype({**canonical.COLUMNS, "source_line": "int64"})
    rejected = pd.read_parquet(folder / "rejected.parquet").astype(REJECTED_COLUMNS)
    vehicles = pd.read_parquet(folder / "vehicles.parquet").astype(VEHICLE_COLUMNS)
    return RawRecording(facts.pop("recording_id"), tracks, rejected, vehicles, facts)


def recording_folders(raw_dir: Path) -> List[Path]:
    return sorted(path.parent for path in Path(raw_dir).glob("*/facts.json"))
