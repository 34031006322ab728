"""Read highD-format recordings (real highD files and `drivelab simulate` output) into canonical tracks.

highD: `XX_tracks.csv`, `XX_tracksMeta.csv`, `XX_recordingMeta.csv`; x, y are the bounding box's top-left corner
in image coordinates (y down), `width` is the vehicle's length and `height` its width. drivingDirection 1 drives
toward decreasing x (upper carriageway), 2 toward increasing x (lower carriageway).

Lines of XX_tracks.csv that cannot be converted are returned as rejected rows with their reason; problems with the
files themselves (missing, empty, a required column absent) raise `RecordingError` naming the file and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np
import pandas as pd

from drivelab.data.tracks import delimited, raw
from drivelab.data.tracks.delimited import FileFormatError

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
# The columns drivelab reads; the others may be absent or hold anything.
REQUIRED_TRACK_COLUMNS = ["frame", "id", "x", "y", "width", "height", "xVelocity", "yVelocity", "xAcceleration",
                          "yAcceleration"]
REQUIRED_META_COLUMNS = ["id", "width", "height", "initialFrame", "finalFrame", "numFrames", "class",
                         "drivingDirection"]
REQUIRED_RECORDING_META_COLUMNS = ["frameRate", "upperLaneMarkings", "lowerLaneMarkings"]


class RecordingError(FileFormatError):
    """A recording that cannot be read, with the file (and column) at fault."""


@dataclass(frozen=True)
class Recording:
    """The three files of one highD recording, by role."""

    number: str  # the "XX" prefix
    tracks: Path
    tracks_meta: Path
    recording_meta: Path


def find_recordings(folder: Path) -> List[raw.RecordingFiles]:
    """Every XX_tracks.csv in `folder` with its two meta files (id suffix: XX)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingError(f"{folder}: no such folder of highD recordings (with source=sim, run `drivelab simulate` first)")
    found = []
    for tracks in sorted(folder.glob("*_tracks.csv")):
        number = tracks.name[: -len("_tracks.csv")]
        recording = Recording(number, tracks, folder / f"{number}_tracksMeta.csv", folder / f"{number}_recordingMeta.csv")
        for path in (recording.tracks_meta, recording.recording_meta):
            if not path.is_file():
                raise RecordingError(f"{path}: missing (every XX_tracks.csv needs its XX_tracksMeta.csv and XX_recordingMeta.csv)")
        found.append(raw.RecordingFiles(number, (recording.tracks, recording.tracks_meta, recording.recording_meta)))
    if not found:
        raise RecordingError(f"{folder}: no highD recordings (XX_tracks.csv) found")
    return found


def _read_small_csv(path: Path, required: List[str]) -> pd.DataFrame:
    """A meta file (a few thousand rows at most) as text columns; numbers are converted by the caller."""
    data = delimited.read_bytes(path)
    delimited.require_columns(delimited.header_of(data, path), required, path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot be parsed ({str(exc).splitlines()[0]})") from None


def lane_markings(recording_meta: pd.Series, key: str, path: Path) -> np.ndarray:
    text = str(recording_meta[key])
    try:
        values = np.sort(np.array([float(v) for v in text.split(";") if v.strip()], dtype=float))
    except ValueError:
        raise RecordingError(f"{path}: column {key!r} is not a ';'-separated list of numbers: {text!r}") from None
    return values


def _frame_rate_hz(info: pd.Series, path: Path) -> float:
    value = pd.to_numeric(pd.Series([info["frameRate"]]), errors="coerce").iloc[0]
    if not (np.isfinite(value) and value > 0):
        raise RecordingError(f"{path}: column 'frameRate' must be a positive number, got {info['frameRate']!r}")
    return float(value)


def _vehicles(meta: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Usable tracksMeta rows by id, and for each unusable id the reason it cannot be used."""
    number = {name: pd.to_numeric(meta[name], errors="coerce") for name in REQUIRED_META_COLUMNS if name != "class"}
    ids = number["id"]
    usable = ids.notna() & (ids >= 0) & (ids == ids.round())
    repeated = ids.duplicated(keep=False) & usable
    direction_ok = number["drivingDirection"].isin([1, 2])
    problems = {}
    for track_id in ids[repeated].astype("int64").unique():
        problems[int(track_id)] = f"id {track_id} has {int((ids == track_id).sum())} rows in tracksMeta"
    for track_id, value in zip(ids[usable & ~repeated & ~direction_ok], meta["drivingDirection"][usable & ~repeated & ~direction_ok]):
        problems[int(track_id)] = f"tracksMeta drivingDirection {value!r} is neither 1 nor 2"
    good = usable & ~repeated & direction_ok
    vehicles = pd.DataFrame({
        "track_id": ids[good].astype("int64"),
        "declared_first_frame": number["initialFrame"][good].round().astype("Int64"),
        "declared_last_frame": number["finalFrame"][good].round().astype("Int64"),
        "declared_frames": number["numFrames"][good].round().astype("Int64"),
        "declared_length_m": number["width"][good].astype("Float64"),
        "declared_width_m": number["height"][good].astype("Float64"),
        "vehicle_class": meta["class"][good].str.strip(),
        "driving_direction": number["drivingDirection"][good].astype("int8"),
    }).reset_index(drop=True)
    return vehicles, problems


def read_recording(found: raw.RecordingFiles, recording_id: str) -> raw.RawRecording:
    """One highD recording as raw canonical rows, with the lines that could not be converted."""
    recording = Recording(found.suffix, *found.files)
    data = delimited.read_bytes(recording.tracks)
    names = delimited.header_of(data, recording.tracks)
    delimited.require_columns(names, REQUIRED_TRACK_COLUMNS, recording.tracks)
    meta = _read_small_csv(recording.tracks_meta, REQUIRED_META_COLUMNS)
    recording_meta = _read_small_csv(recording.recording_meta, REQUIRED_RECORDING_META_COLUMNS)
    if recording_meta.empty:
        raise RecordingError(f"{recording.recording_meta}: no data row (needs frameRate and the lane markings)")
    info = recording_meta.iloc[0]
    frame_rate_hz = _frame_rate_hz(info, recording.recording_meta)
    markings = {key: lane_markings(info, key, recording.recording_meta) for key in ("upperLaneMarkings", "lowerLaneMarkings")}

    source_file = str(recording.tracks)
    parsed = delimited.parse(data, recording.tracks, names, REQUIRED_TRACK_COLUMNS, header=True)
    keep, bad_keys = raw.integer_columns(parsed, ["id", "frame"], data, source_file)
    columns = {name: values[keep] for name, values in parsed.columns.items()}
    source_line = parsed.source_line[keep]
    track_id = columns["id"].astype(np.int64)

    vehicles, problems = _vehicles(meta)
    row_vehicle = pd.Index(vehicles["track_id"]).get_indexer(track_id)
    orphan = row_vehicle < 0
    orphan_ids = pd.Series(track_id[orphan])
    known_problem = orphan_ids.map(problems).astype(object)
    absent = ("id " + orphan_ids.astype(str) + f" has no row in {recording.tracks_meta.name}").astype(object)
    orphan_detail = absent.where(known_problem.isna(), known_problem)
    not_in_meta = raw.conform_rejected(pd.DataFrame({
        "source_file": source_file, "source_line": source_line[orphan], "track_id": track_id[orphan],
        "frame": columns["frame"][orphan].astype(np.int64), "reason": "not_in_meta", "detail": orphan_detail.to_numpy(),
        "raw_text": delimited.lines_at(data, source_line[orphan]),
    }))
    rows = ~orphan
    direction = vehicles["driving_direction"].to_numpy()[row_vehicle[rows]]
    vehicle_class = vehicles["vehicle_class"].to_numpy()[row_vehicle[rows]]
    converted = to_canonical({name: values[rows] for name, values in columns.items()}, direction, markings,
                             frame_rate_hz, recording.recording_meta)
    converted["recording_id"] = recording_id
    converted["vehicle_class"] = vehicle_class
    converted["source_line"] = source_line[rows]

    declared = pd.to_numeric(pd.Series([info.get("numVehicles", "")]), errors="coerce").iloc[0]
    facts = {
        "format": "highd",
        "files": [str(recording.tracks), str(recording.tracks_meta), str(recording.recording_meta)],
        "data_lines": int(parsed.data_lines),
        "frame_rate_hz": frame_rate_hz,
        "declared_vehicles": int(declared) if np.isfinite(declared) else None,
        "meta_rows": int(len(meta)),
    }
    rejected = pd.concat([raw.parse_rejects(parsed, source_file), bad_keys, not_in_meta], ignore_index=True)
    return raw.RawRecording(recording_id, pd.DataFrame(converted), rejected, vehicles, facts)


def to_canonical(columns: dict, direction: np.ndarray, markings: dict, frame_rate_hz: float, meta_path: Path) -> dict:
    """highD image coordinates -> vehicle centre, forward +x, left +y, lane 0 = the driver's leftmost."""
    centre_x = columns["x"] + columns["width"] / 2
    centre_y = columns["y"] + columns["height"] / 2
    # Upper carriageway (1) drives toward -x: flip x; image y points to the driver's right there, to the left below.
    leftward = direction == 1
    forward_sign = np.where(leftward, -1.0, 1.0)
    left_sign = np.where(leftward, 1.0, -1.0)

    lane = np.full(len(centre_y), -1, dtype=np.int16)
    for carriageway, key in ((1, "upperLaneMarkings"), (2, "lowerLaneMarkings")):
        rows = direction == carriageway
        if not rows.any():
            continue
        lines = markings[key]
        if len(lines) < 2:
            raise RecordingError(f"{meta_path}: {key} needs at least two markings for a lane")
        from_top = np.clip(np.searchsorted(lines, centre_y[rows]) - 1, 0, len(lines) - 2)
        # Lane 0 is the driver's leftmost: the top lane below the median, the bottom lane above it.
        lane[rows] = from_top if carriageway == 2 else (len(lines) - 2) - from_top

    return {
        "track_id": columns["id"].astype(np.int64),
        "frame": columns["frame"].astype(np.int64),
        "time_s": columns["frame"] / frame_rate_hz,
        "frame_rate_hz": np.full(len(centre_x), frame_rate_hz),
        "x_m": forward_sign * centre_x,
        "y_m": left_sign * centre_y,
        "vx_mps": forward_sign * columns["xVelocity"],
        "vy_mps": left_sign * columns["yVelocity"],
        "ax_mps2": forward_sign * columns["xAcceleration"],
        "ay_mps2": left_sign * columns["yAcceleration"],
        "length_m": columns["width"],
        "width_m": columns["height"],
        "lane": lane,
        "driving_direction": direction.astype(np.int8),
    }

