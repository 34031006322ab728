"""Read highD-format recordings (real highD files and `drivelab simulate` output) into canonical tracks.

highD: `XX_tracks.csv`, `XX_tracksMeta.csv`, `XX_recordingMeta.csv`; x, y are the bounding box's top-left corner
in image coordinates (y down), `width` is the vehicle's length and `height` its width. drivingDirection 1 drives
toward decreasing x (upper carriageway), 2 toward increasing x (lower carriageway).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np
import pandas as pd

from drivelab.data import tracks as canonical
from drivelab.errors import DrivelabError

TRACK_COLUMNS = [
    "frame", "id", "x", "y", "width", "height", "xVelocity", "yVelocity", "xAcceleration", "yAcceleration",
    "frontSightDistance", "backSightDistance", "dhw", "thw", "ttc", "precedingXVelocity", "precedingId",
    "followingId", "leftPrecedingId", "leftAlongsideId", "leftFollowingId", "rightPrecedingId",
    "rightAlongsideId", "rightFollowingId", "laneId",
]
TRACK_META_COLUMNS = [
    "id", "width", "height", "initialFrame", "finalFrame", "numFrames", "class", "drivingDirection",
    "traveledDistance", "minXVelocity", "maxXVelocity", "meanXVelocity", "minDHW", "minTHW", "minTTC",
    "numLaneChanges",
]
RECORDING_META_COLUMNS = [
    "id", "frameRate", "locationId", "speedLimit", "month", "weekDay", "startTime", "duration",
    "totalDrivenDistance", "totalDrivenTime", "numVehicles", "numCars", "numTrucks", "upperLaneMarkings",
    "lowerLaneMarkings",
]


class RecordingError(DrivelabError, ValueError):
    """A recording that cannot be read, with the file (and column) at fault."""


@dataclass(frozen=True)
class Recording:
    """The three files of one highD recording."""

    number: str  # the "XX" prefix
    tracks: Path
    tracks_meta: Path
    recording_meta: Path


def find_recordings(folder: Path) -> List[Recording]:
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingError(f"{folder}: no such folder of highD recordings")
    found = []
    for tracks in sorted(folder.glob("*_tracks.csv")):
        number = tracks.name[: -len("_tracks.csv")]
        recording = Recording(number, tracks, folder / f"{number}_tracksMeta.csv", folder / f"{number}_recordingMeta.csv")
        for path in (recording.tracks_meta, recording.recording_meta):
            if not path.is_file():
                raise RecordingError(f"{path}: missing (every XX_tracks.csv needs its XX_tracksMeta.csv and XX_recordingMeta.csv)")
        found.append(recording)
    if not found:
        raise RecordingError(f"{folder}: no highD recordings (XX_tracks.csv) found")
    return found


def _read_csv(path: Path, required: List[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise RecordingError(f"{path}: empty file") from None
    absent = [column for column in required if column not in table.columns]
    if absent:
        raise RecordingError(f"{path}: missing required column {absent[0]!r}")
    return table


def lane_markings(recording_meta: pd.Series, key: str, path: Path) -> np.ndarray:
    text = str(recording_meta[key])
    try:
        values = np.sort(np.array([float(v) for v in text.split(";") if v.strip()], dtype=float))
    except ValueError:
        raise RecordingError(f"{path}: column {key!r} is not a ';'-separated list of numbers: {text!r}") from None
    return values


def read_recording(recording: Recording, recording_id: str) -> pd.DataFrame:
    """One highD recording as a canonical track table."""
    tracks = _read_csv(recording.tracks, ["frame", "id", "x", "y", "width", "height", "xVelocity", "yVelocity",
                                           "xAcceleration", "yAcceleration"])
    meta = _read_csv(recording.tracks_meta, ["id", "class", "drivingDirection"])
    recording_meta = _read_csv(recording.recording_meta, ["frameRate", "upperLaneMarkings", "lowerLaneMarkings"])
    if recording_meta.empty:
        raise RecordingError(f"{recording.recording_meta}: no row")
    info = recording_meta.iloc[0]
    frame_rate_hz = float(info["frameRate"])
    if not frame_rate_hz > 0:
        raise RecordingError(f"{recording.recording_meta}: frameRate must be positive, got {info['frameRate']!r}")

    table = tracks.merge(meta[["id", "class", "drivingDirection"]], on="id", how="left", validate="many_to_one")
    if table["drivingDirection"].isna().any():
        orphan = int(table.loc[table["drivingDirection"].isna(), "id"].iloc[0])
        raise RecordingError(f"{recording.tracks}: track id {orphan} has no row in {recording.tracks_meta.name}")

    centre_x = table["x"].to_numpy(float) + table["width"].to_numpy(float) / 2
    centre_y = table["y"].to_numpy(float) + table["height"].to_numpy(float) / 2
    # Upper carriageway (1) drives toward -x: flip x; image y points to the driver's right there, to the left below.
    leftward = table["drivingDirection"].to_numpy() == 1
    forward_sign = np.where(leftward, -1.0, 1.0)
    left_sign = np.where(leftward, 1.0, -1.0)

    lane = np.full(len(table), -1, dtype=np.int16)
    for direction, key in ((1, "upperLaneMarkings"), (2, "lowerLaneMarkings")):
        rows = table["drivingDirection"].to_numpy() == direction
        markings = lane_markings(info, key, recording.recording_meta)
        if not rows.any():
            continue
        if len(markings) < 2:
            raise RecordingError(f"{recording.recording_meta}: {key} needs at least two markings for a lane")
        from_top = np.clip(np.searchsorted(markings, centre_y[rows]) - 1, 0, len(markings) - 2)
        # Lane 0 is the driver's leftmost: the top lane below the median, the bottom lane above it.
        lane[rows] = from_top if direction == 2 else (len(markings) - 2) - from_top

    converted = pd.DataFrame({
        "recording_id": recording_id,
        "track_id": table["id"].astype("int64"),
        "frame": table["frame"].astype("int64"),
        "time_s": table["frame"].to_numpy(float) / frame_rate_hz,
        "frame_rate_hz": frame_rate_hz,
        "x_m": forward_sign * centre_x,
        "y_m": left_sign * centre_y,
        "vx_mps": forward_sign * table["xVelocity"].to_numpy(float),
        "vy_mps": left_sign * table["yVelocity"].to_numpy(float),
        "ax_mps2": forward_sign * table["xAcceleration"].to_numpy(float),
        "ay_mps2": left_sign * table["yAcceleration"].to_numpy(float),
        "length_m": table["width"].astype(float),
        "width_m": table["height"].astype(float),
        "lane": lane,
        "vehicle_class": table["class"].astype(str),
        "driving_direction": table["drivingDirection"].astype("int8"),
    })
    return canonical.conform(converted)
