"""Read NGSIM US-101 / I-80 raw trajectory files into canonical tracks.

A raw file has 18 whitespace-separated columns and no header, in feet, ft/s and ft/s^2 at 10 Hz. Local_Y is the
longitudinal position of the vehicle's front centre (along the direction of travel), Local_X the lateral position
from the left edge of the section (growing to the driver's right); Lane_ID 1 is the leftmost lane. Vehicle ids are
unique only within one file, so each file is its own recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pandas as pd

from drivelab.data.tracks import delimited, raw
from drivelab.data.tracks.delimited import FileFormatError

COLUMNS = [
    "Vehicle_ID", "Frame_ID", "Total_Frames", "Global_Time", "Local_X", "Local_Y", "Global_X", "Global_Y",
    "v_Length", "v_Width", "v_Class", "v_Vel", "v_Acc", "Lane_ID", "Preceding", "Following", "Space_Headway",
    "Time_Headway",
]
REQUIRED_COLUMNS = ["Vehicle_ID", "Frame_ID", "Total_Frames", "Local_X", "Local_Y", "v_Length", "v_Width", "v_Class",
                    "v_Vel", "v_Acc", "Lane_ID"]
FRAME_RATE_HZ = 10.0
METRES_PER_FOOT = 0.3048
VEHICLE_CLASSES = {1: "Motorcycle", 2: "Car", 3: "Truck"}
FILE_PATTERN = "*.txt"  # raw trajectory files, e.g. trajectories-0750am-0805am.txt
SINGLE_CARRIAGEWAY = 0  # driving_direction of every NGSIM vehicle: one direction of travel per study area


def find_recordings(path: Path) -> List[raw.RecordingFiles]:
    """`path` itself when it is a file, else the raw trajectory files (*.txt) in the folder; vehicle ids repeat
    across files, so every file is a recording of its own (id suffix: the file name without .txt)."""
    path = Path(path)
    if path.is_file():
        return [raw.RecordingFiles(path.stem, (path,))]
    if not path.is_dir():
        raise FileFormatError(f"{path}: no such NGSIM trajectory file or folder")
    files = sorted(p for p in path.glob(FILE_PATTERN) if p.is_file())
    if not files:
        raise FileFormatError(f"{path}: no NGSIM raw trajectory files ({FILE_PATTERN}) found")
    return [raw.RecordingFiles(file.stem, (file,)) for file in files]


def read_recording(found: raw.RecordingFiles, recording_id: str) -> raw.RawRecording:
    """One raw trajectory file as raw canonical rows, with the lines that could not be converted."""
    [path] = found.files
    original = delimited.read_bytes(path)
    data = delimited.collapse_whitespace(original)
    fields = delimited.first_field_count(data)
    if fields is None:
        raise FileFormatError(f"{path}: empty file (expected NGSIM trajectory lines)")
    if fields != len(COLUMNS):
        first = data[:200].split(b"\n", 1)[0].split(b",", 1)[0].decode("utf-8", errors="replace")
        hint = (" it looks like a CSV export with a header; convert it to the raw 18-column files"
                if not first.lstrip("-+").replace(".", "", 1).isdigit() else "")
        raise FileFormatError(f"{path}: line 1 has {fields} columns, NGSIM raw trajectory files have "
                              f"{len(COLUMNS)} ({', '.join(COLUMNS)}){';' + hint if hint else ''}")

    source_file = str(path)
    parsed = delimited.parse(data, path, COLUMNS, REQUIRED_COLUMNS, header=False)
    integer = ["Vehicle_ID", "Frame_ID", "v_Class", "Lane_ID"]
    keep, bad_keys = raw.integer_columns(parsed, integer, original, source_file)
    no_lane = keep & (parsed.columns["Lane_ID"] < 1)  # NGSIM lanes count from 1; 0 is not an unknown lane
    if no_lane.any():
        bad_keys = pd.concat([bad_keys, raw.conform_rejected(pd.DataFrame({
            "source_file": source_file, "source_line": parsed.source_line[no_lane],
            "track_id": parsed.columns["Vehicle_ID"][no_lane].astype(np.int64),
            "frame": parsed.columns["Frame_ID"][no_lane].astype(np.int64), "reason": "out_of_range",
            "detail": [f"column 'Lane_ID' = {value:g} is not a lane (they count from 1)"
                       for value in parsed.columns["Lane_ID"][no_lane]],
            "raw_text": delimited.lines_at(original, parsed.source_line[no_lane]),
        }))], ignore_index=True)
        keep &= ~no_lane
    columns = {name: values[keep] for name, values in parsed.columns.items()}
    order = np.lexsort((columns["Frame_ID"], columns["Vehicle_ID"]))
    columns = {name: values[order] for name, values in columns.items()}
    tracks = to_canonical(columns)
    tracks["recording_id"] = recording_id
    tracks["source_line"] = parsed.source_line[keep][order]

    vehicle_ids, first_row = np.unique(tracks["track_id"], return_index=True)
    total_frames = columns["Total_Frames"][first_row]  # repeated on every row of a vehicle: its first counts
    vehicles = pd.DataFrame({"track_id": vehicle_ids,
                             "declared_frames": pd.array(np.round(total_frames), dtype="Float64").astype("Int64")})
    facts = {
        "format": "ngsim",
        "files": [source_file],
        "data_lines": int(parsed.data_lines),
        "frame_rate_hz": FRAME_RATE_HZ,
        "declared_vehicles": None,
    }
    rejected = pd.concat([raw.parse_rejects(parsed, source_file), bad_keys], ignore_index=True)
    return raw.RawRecording(recording_id, pd.DataFrame(tracks), rejected, vehicles, facts)


def to_canonical(columns: dict) -> dict:
    """Feet -> metres; front centre -> centre; lateral axis turned so +y is the driver's left; lanes from 0."""
    length_m = columns["v_Length"] * METRES_PER_FOOT
    x_m = columns["Local_Y"] * METRES_PER_FOOT - length_m / 2
    y_m = -columns["Local_X"] * METRES_PER_FOOT
    track_id = columns["Vehicle_ID"].astype(np.int64)
    time_s = columns["Frame_ID"] / FRAME_RATE_HZ
    vy_mps = raw.time_derivative(track_id, time_s, y_m)
    codes = columns["v_Class"].astype(np.int64)
    names = np.array([VEHICLE_CLASSES.get(int(code), f"class {int(code)}") for code in np.unique(codes)], dtype=object)
    vehicle_class = names[np.searchsorted(np.unique(codes), codes)]
    return {
        "track_id": track_id,
        "frame": columns["Frame_ID"].astype(np.int64),
        "time_s": time_s,
        "frame_rate_hz": np.full(len(track_id), FRAME_RATE_HZ),
        "x_m": x_m,
        "y_m": y_m,
        "vx_mps": columns["v_Vel"] * METRES_PER_FOOT,  # NGSIM gives speed; along the lane it is the forward speed
        "vy_mps": vy_mps,
        "ax_mps2": columns["v_Acc"] * METRES_PER_FOOT,
        "ay_mps2": raw.time_derivative(track_id, time_s, vy_mps),
        "length_m": length_m,
        "width_m": columns["v_Width"] * METRES_PER_FOOT,
        "lane": (columns["Lane_ID"] - 1).astype(np.int16),
        "vehicle_class": vehicle_class,
        "driving_direction": np.full(len(track_id), SINGLE_CARRIAGEWAY, dtype=np.int8),
    }
