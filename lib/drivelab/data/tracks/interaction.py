"""Read INTERACTION dataset track files (`vehicle_tracks_NNN.csv`) into canonical tracks.

One file per recording, with a header: track_id, frame_id (from 1), timestamp_ms, agent_type (car, truck, ...), x, y
(metres, map coordinates of the vehicle centre), vx, vy (m/s), psi_rad (heading), length, width; 10 Hz. The road may
run in any direction, both directions share the map frame, and there are no lane ids (lanes live in a lanelet map
drivelab does not read): every row's lane is `canonical.UNKNOWN_LANE`.

Forward = +x comes from the vehicles' own motion, not from the file:
1. a track's heading is the direction of its median velocity (of its net displacement when it barely moves, of its
   mean psi_rad when it stands still);
2. the road's axis is the mean of the tracks' headings folded onto [0, 180) degrees, and a track belongs to the
   carriageway it drives along: driving_direction 1 within 90 degrees of the axis, 2 against it, so the two
   directions are separate carriageways and never each other's neighbours;
3. each carriageway is turned by one angle (the mean heading of its tracks) about one point (the recording's mean
   position), so vehicles driving the same way keep their positions relative to each other. The map frame is
   right-handed (x east, y north), so +y is then the driver's left.
This suits the dataset's highway scenes (merges such as DR_CHN_Merging_ZS, DR_DEU_Merging_MT), where a carriageway
has one direction; crossing traffic at intersections or roundabouts has none. The headings found are kept in the
recording's facts (`carriageways`).

Agents that are not motor vehicles (pedestrian/bicycle) are quarantined with their reason, every row of them; an
agent_type that names nothing known is an out_of_range row. Accelerations are the time derivative of the turned
velocities (the files have none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd

from drivelab.data.tracks import canonical, delimited, raw
from drivelab.data.tracks.delimited import FileFormatError

COLUMNS = ["track_id", "frame_id", "timestamp_ms", "agent_type", "x", "y", "vx", "vy", "psi_rad", "length", "width"]
REQUIRED_COLUMNS = ["track_id", "frame_id", "agent_type", "x", "y", "vx", "vy", "length", "width"]
FRAME_RATE_HZ = 10.0
FILE_PREFIX = "vehicle_tracks_"
FILE_PATTERN = f"{FILE_PREFIX}*.csv"
MOTOR_VEHICLES = {"car": "Car", "truck": "Truck", "bus": "Truck", "motorcycle": "Motorcycle"}  # agent_type -> class
NOT_MOTOR_VEHICLES = ("pedestrian", "bicycle", "pedestrian/bicycle")
MIN_SPEED_MPS = 0.5  # a slower median velocity says little about where a track goes: use its displacement
MIN_DISPLACEMENT_M = 1.0  # ... and below this, its heading angle (psi_rad)


def find_recordings(path: Path) -> List[raw.RecordingFiles]:
    """`path` itself when it is a file; else the vehicle_tracks_*.csv in the folder (id suffix: NNN) or, when it
    holds none, in its subfolders, one per location as the dataset ships them (id suffix: <location>_NNN)."""
    path = Path(path)
    if path.is_file():
        return [raw.RecordingFiles(path.stem.removeprefix(FILE_PREFIX), (path,))]
    if not path.is_dir():
        raise FileFormatError(f"{path}: no such INTERACTION track file or folder")
    files = sorted(p for p in path.glob(FILE_PATTERN) if p.is_file())
    if files:
        return [raw.RecordingFiles(file.stem.removeprefix(FILE_PREFIX), (file,)) for file in files]
    files = sorted(p for p in path.glob(f"*/{FILE_PATTERN}") if p.is_file())
    if not files:
        raise FileFormatError(f"{path}: no INTERACTION track files ({FILE_PATTERN}) here or in its subfolders")
    return [raw.RecordingFiles(f"{file.parent.name}_{file.stem.removeprefix(FILE_PREFIX)}", (file,)) for file in files]


def read_recording(found: raw.RecordingFiles, recording_id: str) -> raw.RawRecording:
    """One track file as raw canonical rows, with the lines that could not be converted (and the agents that are
    not motor vehicles) as rejected rows."""
    [path] = found.files
    source_file = str(path)
    data = delimited.read_bytes(path)
    names = delimited.header_of(data, path)
    delimited.require_columns(names, REQUIRED_COLUMNS, path)
    numeric = [name for name in REQUIRED_COLUMNS if name != "agent_type"] + (["psi_rad"] if "psi_rad" in names else [])
    parsed = delimited.parse(data, path, names, numeric, header=True, text=["agent_type"])
    keep, bad_keys = raw.integer_columns(parsed, ["track_id", "frame_id"], data, source_file)

    agent_type = np.char.lower(parsed.text["agent_type"].astype(str))
    vehicle_class = np.array([MOTOR_VEHICLES.get(kind, "") for kind in agent_type], dtype=object)
    not_vehicle = keep & np.isin(agent_type, NOT_MOTOR_VEHICLES)
    unknown_kind = keep & (vehicle_class == "") & ~not_vehicle
    written = parsed.text["agent_type"].astype(object)
    set_aside = _rejected(parsed, data, source_file, not_vehicle, "not_motor_vehicle",
                          "agent_type '" + written[not_vehicle] + "' is not a motor vehicle")
    unknown = _rejected(parsed, data, source_file, unknown_kind, "out_of_range",
                        "agent_type '" + written[unknown_kind] + "' is none of "
                        + ", ".join([*MOTOR_VEHICLES, *NOT_MOTOR_VEHICLES]))
    rows = keep & ~not_vehicle & ~unknown_kind
    # Map x, y (and vx, vy) are turned together: a missing one would spoil both canonical values, so name it here.
    first_missing = np.full(len(parsed), "", dtype=object)
    for name in ("x", "y", "vx", "vy"):
        first_missing[rows & (first_missing == "") & ~np.isfinite(parsed.columns[name])] = name
    spoiled = first_missing != ""
    missing = _rejected(parsed, data, source_file, spoiled, "nan_or_inf",
                        "column '" + first_missing[spoiled] + "' is missing or not finite")
    rows &= ~spoiled

    columns = {name: values[rows] for name, values in parsed.columns.items()}
    order = np.lexsort((columns["frame_id"], columns["track_id"]))
    columns = {name: values[order] for name, values in columns.items()}
    tracks, carriageways = to_canonical(columns)
    tracks["recording_id"] = recording_id
    tracks["vehicle_class"] = vehicle_class[rows][order]
    tracks["source_line"] = parsed.source_line[rows][order]

    facts = {
        "format": "interaction",
        "files": [source_file],
        "data_lines": int(parsed.data_lines),
        "frame_rate_hz": FRAME_RATE_HZ,
        "declared_vehicles": None,
        "carriageways": carriageways,
    }
    rejected = pd.concat([raw.parse_rejects(parsed, source_file), bad_keys, set_aside, unknown, missing],
                         ignore_index=True)
    vehicles = pd.DataFrame({"track_id": pd.Series(dtype="int64")})  # the file declares nothing about its vehicles
    return raw.RawRecording(recording_id, pd.DataFrame(tracks), rejected, vehicles, facts)


def _rejected(parsed: delimited.ParsedTable, data: bytes, source_file: str, rows: np.ndarray, reason: str,
              detail: np.ndarray) -> pd.DataFrame:
    """Rows of the parsed table (whose ids are whole numbers) as rejected rows naming their track and frame."""
    return raw.conform_rejected(pd.DataFrame({
        "source_file": source_file, "source_line": parsed.source_line[rows],
        "track_id": parsed.columns["track_id"][rows].astype(np.int64),
        "frame": parsed.columns["frame_id"][rows].astype(np.int64), "reason": reason, "detail": detail,
        "raw_text": delimited.lines_at(data, parsed.source_line[rows]),
    }))


def to_canonical(columns: Dict[str, np.ndarray]) -> tuple[dict, Dict[str, dict]]:
    """Map-frame rows sorted by (track, frame) -> canonical columns, each carriageway turned so that its vehicles
    drive toward +x; also the carriageways found (heading in the map frame and number of tracks)."""
    track_id = columns["track_id"].astype(np.int64)
    time_s = columns["frame_id"] / FRAME_RATE_HZ
    ids, first = np.unique(track_id, return_index=True)
    heading = track_headings(columns, np.append(first, len(track_id)))
    direction_of_track, carriageway_heading = carriageways(heading)
    direction = direction_of_track[np.searchsorted(ids, track_id)]
    angle = np.zeros(len(track_id))
    for carriageway, angle_rad in carriageway_heading.items():
        angle[direction == carriageway] = angle_rad
    cos, sin = np.cos(angle), np.sin(angle)
    centre = [np.nanmean(columns[axis]) if np.isfinite(columns[axis]).any() else 0.0 for axis in ("x", "y")]
    dx, dy = columns["x"] - centre[0], columns["y"] - centre[1]
    vx_mps = cos * columns["vx"] + sin * columns["vy"]
    vy_mps = -sin * columns["vx"] + cos * columns["vy"]
    tracks = {
        "track_id": track_id,
        "frame": columns["frame_id"].astype(np.int64),
        "time_s": time_s,
        "frame_rate_hz": np.full(len(track_id), FRAME_RATE_HZ),
        "x_m": cos * dx + sin * dy,
        "y_m": -sin * dx + cos * dy,
        "vx_mps": vx_mps,
        "vy_mps": vy_mps,
        "ax_mps2": raw.time_derivative(track_id, time_s, vx_mps),
        "ay_mps2": raw.time_derivative(track_id, time_s, vy_mps),
        "length_m": columns["length"],
        "width_m": columns["width"],
        "lane": np.full(len(track_id), canonical.UNKNOWN_LANE, dtype=np.int16),
        "driving_direction": direction.astype(np.int8),
    }
    found = {str(carriageway): {"heading_deg": round(float(np.degrees(angle_rad)) % 360.0, 3),
                                "tracks": int(np.count_nonzero(direction_of_track == carriageway))}
             for carriageway, angle_rad in carriageway_heading.items()}
    return tracks, found


def track_headings(columns: Dict[str, np.ndarray], bounds: np.ndarray) -> np.ndarray:
    """Each track's direction of travel in the map frame (radians); rows of track i are bounds[i]:bounds[i + 1].
    Medians and the first and last finite positions, so that one glitch in a track does not turn it."""
    headings = np.zeros(len(bounds) - 1)
    for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        vx, vy = columns["vx"][start:end], columns["vy"][start:end]
        moving = np.isfinite(vx) & np.isfinite(vy)
        velocity = (np.median(vx[moving]), np.median(vy[moving])) if moving.any() else (0.0, 0.0)
        x, y = columns["x"][start:end], columns["y"][start:end]
        placed = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        displacement = ((x[placed[-1]] - x[placed[0]], y[placed[-1]] - y[placed[0]]) if placed.size else (0.0, 0.0))
        psi = columns["psi_rad"][start:end] if "psi_rad" in columns else np.zeros(0)
        psi = psi[np.isfinite(psi)]
        if np.hypot(*velocity) >= MIN_SPEED_MPS:
            headings[i] = np.arctan2(velocity[1], velocity[0])
        elif np.hypot(*displacement) >= MIN_DISPLACEMENT_M:
            headings[i] = np.arctan2(displacement[1], displacement[0])
        elif psi.size:
            headings[i] = np.arctan2(np.sin(psi).mean(), np.cos(psi).mean())
    return headings


def carriageways(headings: np.ndarray) -> tuple[np.ndarray, Dict[int, float]]:
    """The driving_direction of each track (1 along the road's axis, 2 against it) and each carriageway's heading."""
    if not len(headings):
        return np.zeros(0, np.int8), {}
    # Doubled angles make opposite headings agree: their mean, halved, is the road's axis.
    axis = np.arctan2(np.sin(2 * headings).sum(), np.cos(2 * headings).sum()) / 2 % np.pi
    direction = np.where(np.cos(headings - axis) >= 0, 1, 2).astype(np.int8)
    found = {}
    for carriageway in (1, 2):
        mine = headings[direction == carriageway]
        if mine.size:
            found[carriageway] = float(np.arctan2(np.sin(mine).mean(), np.cos(mine).mean()))
    return direction, found
