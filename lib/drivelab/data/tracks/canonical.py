"""The canonical track table every source is converted into, and the run record each pipeline stage leaves.

One row per (vehicle, frame). Metres and seconds; (x_m, y_m) is the vehicle centre with x_m along the driving
direction (forward is always +x) and y_m to the driver's left. `lane` counts from the driver's leftmost lane (0);
a source without lanes (INTERACTION: lanes live in a map drivelab does not read) writes `UNKNOWN_LANE` (-1) instead,
and everything downstream treats such a row's lane, lane changes and intention as unknown, never as "kept".
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Union

import pandas as pd

from drivelab import resources
from drivelab.atomic import write_json
from drivelab.errors import MissingInputError

COLUMNS: Dict[str, str] = {
    "recording_id": "string",   # unique across sources, e.g. "sim_07"
    "track_id": "int64",        # vehicle id within the recording
    "frame": "int64",           # source frame number
    "time_s": "float64",        # frame / frame_rate_hz
    "frame_rate_hz": "float64", # source sampling rate
    "x_m": "float64",           # centre, along the driving direction
    "y_m": "float64",           # centre, to the driver's left
    "vx_mps": "float64",
    "vy_mps": "float64",
    "ax_mps2": "float64",
    "ay_mps2": "float64",
    "length_m": "float64",
    "width_m": "float64",
    "lane": "int16",            # 0 = leftmost lane of the carriageway; UNKNOWN_LANE = not known
    "vehicle_class": "string",  # Car, Truck, Motorcycle
    "driving_direction": "int8",  # carriageway (highD: 1 upper, 2 lower); vehicles of one carriageway interact
}

UNKNOWN_LANE = -1  # the lane of a row whose source has no lanes (an int16 column cannot hold a null cheaply)


def conform(tracks: pd.DataFrame) -> pd.DataFrame:
    """Columns in canonical order and dtypes; raises naming the first missing column."""
    missing = [name for name in COLUMNS if name not in tracks.columns]
    if missing:
        raise ValueError(f"canonical track table lacks column {missing[0]!r}")
    return tracks[list(COLUMNS)].astype(COLUMNS).sort_values(["track_id", "frame"], ignore_index=True)


def write(tracks: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    conform(tracks).to_parquet(tmp, index=False)
    tmp.replace(path)


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).astype(COLUMNS)


def recording_files(tracks_dir: Path) -> List[Path]:
    files = sorted(tracks_dir.glob("*.parquet"))
    if not files:
        raise MissingInputError(f"no track tables (*.parquet) in {tracks_dir}; run `drivelab prepare` first")
    return files



FLOW_DIR = "flow"  # <data_dir>/flow/<stage>.json: a stage's own run record (duration), kept out of the data version


def write_stage_record(data_dir: Path, stage: str, duration_s: float, **figures: Union[int, float]) -> None:
    """<data_dir>/flow/<stage>.json: how long the stage took, its rows in and out, its throughput (`rows_per_s` of
    rows in; `windows_per_s` where it makes windows) and peak memory (this process since the previous stage's
    record, and the largest worker process), for the health report and `drivelab doctor`."""
    seconds = max(float(duration_s), 1e-9)
    rows_in = figures.get("rows_in", figures.get("track_rows"))
    throughput = {"rows_per_s": round(rows_in / seconds, 1) if rows_in is not None else None,
                  "windows_per_s": round(figures["windows"] / seconds, 1) if "windows" in figures else None}
    memory = {"peak_rss_mb": resources.memory_mb()["rss_peak_mb"], "workers_peak_rss_mb": resources.children_peak_mb()}
    resources.reset_peak()  # the next stage in this process (`prepare` runs three) measures its own peak
    record = {"stage": stage, "duration_s": round(float(duration_s), 3), **figures, **throughput, **memory}
    write_json(Path(data_dir) / FLOW_DIR / f"{stage}.json",
               {key: value for key, value in record.items() if value is not None})
