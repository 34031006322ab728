"""Small highD recordings written straight from the published format (not from drivelab's own writer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pandas as pd

# XX_tracks.csv columns in the published order.
TRACK_COLUMNS = [
    "frame", "id", "x", "y", "width", "height", "xVelocity", "yVelocity", "xAcceleration", "yAcceleration",
    "frontSightDistance", "backSightDistance", "dhw", "thw", "ttc", "precedingXVelocity", "precedingId",
    "followingId", "leftPrecedingId", "leftAlongsideId", "leftFollowingId", "rightPrecedingId", "rightAlongsideId",
    "rightFollowingId", "laneId",
]
TRACK_META_COLUMNS = [
    "id", "width", "height", "initialFrame", "finalFrame", "numFrames", "class", "drivingDirection",
    "traveledDistance", "minXVelocity", "maxXVelocity", "meanXVelocity", "minDHW", "minTHW", "minTTC",
    "numLaneChanges",
]
UPPER_MARKINGS = (10.0, 14.0, 18.0)  # two upper lanes (drivingDirection 1, toward decreasing x)
LOWER_MARKINGS = (22.0, 26.0, 30.0)  # two lower lanes (drivingDirection 2, toward increasing x)


@dataclass
class Vehicle:
    """A vehicle at constant velocity in image coordinates (metres, y down)."""

    id: int
    direction: int  # 1 upper (moving -x), 2 lower (moving +x)
    centre_x: float  # at the first frame
    centre_y: float
    x_velocity: float  # signed, image coordinates
    y_velocity: float = 0.0
    length: float = 5.0
    width: float = 2.0
    first_frame: int = 1
    last_frame: int = 250
    vehicle_class: str = "Car"


def write_recording(folder: Path, number: int, vehicles: Sequence[Vehicle], frame_rate: float = 25.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    parts: List[pd.DataFrame] = []
    for v in vehicles:
        frames = np.arange(v.first_frame, v.last_frame + 1)
        elapsed_s = (frames - v.first_frame) / frame_rate
        centre_x = v.centre_x + v.x_velocity * elapsed_s
        centre_y = v.centre_y + v.y_velocity * elapsed_s
        markings = UPPER_MARKINGS if v.direction == 1 else LOWER_MARKINGS
        lane_from_top = np.clip(np.searchsorted(markings, centre_y) - 1, 0, len(markings) - 2)
        first_lane_id = 2 if v.direction == 1 else len(UPPER_MARKINGS) + 2
        n = len(frames)
        parts.append(pd.DataFrame({
            "frame": frames, "id": v.id, "x": centre_x - v.length / 2, "y": centre_y - v.width / 2,
            "width": v.length, "height": v.width, "xVelocity": v.x_velocity, "yVelocity": v.y_velocity,
            "xAcceleration": 0.0, "yAcceleration": 0.0, "frontSightDistance": 100.0,
            "backSightDistance": 100.0, "dhw": 0.0, "thw": 0.0, "ttc": 0.0, "precedingXVelocity": 0.0,
            "precedingId": 0, "followingId": 0, "leftPrecedingId": 0, "leftAlongsideId": 0,
            "leftFollowingId": 0, "rightPrecedingId": 0, "rightAlongsideId": 0, "rightFollowingId": 0,
            "laneId": (first_lane_id + lane_from_top).astype(int),
        }, index=range(n)))
    tracks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TRACK_COLUMNS)
    tracks[TRACK_COLUMNS].to_csv(folder / f"{number:02d}_tracks.csv", index=False)
    meta = [{
        "id": v.id, "width": v.length, "height": v.width, "initialFrame": v.first_frame, "finalFrame": v.last_frame,
        "numFrames": v.last_frame - v.first_frame + 1, "class": v.vehicle_class, "drivingDirection": v.direction,
        "traveledDistance": abs(v.x_velocity) * (v.last_frame - v.first_frame) / frame_rate,
        "minXVelocity": abs(v.x_velocity), "maxXVelocity": abs(v.x_velocity), "meanXVelocity": abs(v.x_velocity),
        "minDHW": -1, "minTHW": -1, "minTTC": -1, "numLaneChanges": 0,
    } for v in vehicles]
    pd.DataFrame(meta, columns=TRACK_META_COLUMNS).to_csv(folder / f"{number:02d}_tracksMeta.csv", index=False)
    pd.DataFrame([{
        "id": number, "frameRate": frame_rate, "locationId": 1, "speedLimit": -1, "month": "01", "weekDay": "Mon",
        "startTime": "08:00", "duration": 10.0, "totalDrivenDistance": 0.0, "totalDrivenTime": 0.0,
        "numVehicles": len(vehicles), "numCars": len(vehicles), "numTrucks": 0,
        "upperLaneMarkings": ";".join(str(m) for m in UPPER_MARKINGS),
        "lowerLaneMarkings": ";".join(str(m) for m in LOWER_MARKINGS),
    }]).to_csv(folder / f"{number:02d}_recordingMeta.csv", index=False)


def read_lines(path: Path) -> List[str]:
    return Path(path).read_text().splitlines()


def write_lines(path: Path, lines: Sequence[str], final_newline: bool = True) -> None:
    """Rewrite a fixture file line by line (tests damage fixtures this way, as real files get damaged)."""
    Path(path).write_text("\n".join(lines) + ("\n" if final_newline else ""))
