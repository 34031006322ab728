"""Small NGSIM US-101 / I-80 raw trajectory files written from the published format.

18 whitespace-separated columns, no header, feet / ft/s / ft/s^2, 10 Hz. Local_Y is the longitudinal position of
the vehicle's front centre, Local_X the lateral position from the section's left edge; Lane_ID 1 is the leftmost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

import numpy as np

FRAME_RATE_HZ = 10
# Right-aligned fields of varying width, as in the distributed files.
ROW_FORMAT = "%5d %6d %5d %14d %8.3f %9.3f %12.3f %12.3f %5.1f %5.1f %2d %6.2f %6.2f %2d %5d %5d %7.2f %7.2f"
START_TIME_MS = 1_118_846_980_200


@dataclass
class NgsimVehicle:
    """A vehicle at constant speed in the NGSIM local frame (feet)."""

    id: int
    lane_id: int  # 1 = leftmost lane
    local_x_ft: float  # lateral position of the front centre at the first frame
    local_y_ft: float  # longitudinal position of the front centre at the first frame
    speed_ftps: float
    lateral_ftps: float = 0.0  # positive: toward the right edge
    length_ft: float = 15.0
    width_ft: float = 6.0
    v_class: int = 2  # 1 motorcycle, 2 car, 3 truck
    first_frame: int = 1
    frames: int = 100


def trajectory_rows(vehicles: Sequence[NgsimVehicle]) -> np.ndarray:
    rows: List[np.ndarray] = []
    for v in vehicles:
        frame = np.arange(v.first_frame, v.first_frame + v.frames)
        elapsed_s = (frame - v.first_frame) / FRAME_RATE_HZ
        local_x = v.local_x_ft + v.lateral_ftps * elapsed_s
        local_y = v.local_y_ft + v.speed_ftps * elapsed_s
        n = len(frame)
        columns = [
            np.full(n, v.id), frame, np.full(n, v.frames), START_TIME_MS + frame * 100, local_x, local_y,
            6_451_000 + local_x, 1_873_000 + local_y, np.full(n, v.length_ft), np.full(n, v.width_ft),
            np.full(n, v.v_class), np.full(n, v.speed_ftps), np.zeros(n), np.full(n, v.lane_id), np.zeros(n),
            np.zeros(n), np.zeros(n), np.zeros(n),
        ]
        rows.append(np.column_stack(columns))
    return np.concatenate(rows) if rows else np.zeros((0, 18))


def write_trajectories(path: Path, vehicles: Sequence[NgsimVehicle]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, trajectory_rows(vehicles), fmt=ROW_FORMAT)
    return path
