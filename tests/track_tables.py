"""Canonical track tables built by hand (constant-speed platoons), so window and health figures are known exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from drivelab.data.tracks import canonical

LANE_WIDTH_M = 3.5


def platoon(recording_id: str, lanes: int = 2, vehicles_per_lane: int = 3, gap_m: float = 30.0, speed_mps: float = 20.0,
            duration_s: float = 20.0, frame_rate_hz: float = 10.0, change_left_at_s: Optional[float] = None,
            direction: int = 2) -> pd.DataFrame:
    """Vehicles `gap_m` apart in every lane, all at `speed_mps`, lanes side by side (lane 0 leftmost, y = 0).

    With `change_left_at_s`, the last vehicle of lane 1 moves to lane 0 over the following two seconds
    (its lane index switches halfway).
    """
    frames = np.arange(int(round(duration_s * frame_rate_hz)))
    time_s = frames / frame_rate_hz
    lane = np.repeat(np.arange(lanes), vehicles_per_lane)
    slot = np.tile(np.arange(vehicles_per_lane), lanes)
    n_vehicles = len(lane)
    x_m = 100.0 + slot[:, None] * gap_m + speed_mps * time_s[None, :]
    y_m = np.broadcast_to(-lane[:, None] * LANE_WIDTH_M, x_m.shape).astype(float).copy()
    vy_mps = np.zeros_like(x_m)
    lane_now = np.broadcast_to(lane[:, None], x_m.shape).copy()
    if change_left_at_s is not None:
        mover = vehicles_per_lane  # lane 1, slot 0
        moving = (time_s >= change_left_at_s) & (time_s < change_left_at_s + 2.0)
        after = time_s >= change_left_at_s + 2.0
        y_m[mover, moving] += LANE_WIDTH_M * (time_s[moving] - change_left_at_s) / 2.0
        y_m[mover, after] = 0.0
        vy_mps[mover, moving] = LANE_WIDTH_M / 2.0
        lane_now[mover, time_s >= change_left_at_s + 1.0] = 0
    table = pd.DataFrame({
        "recording_id": recording_id,
        "track_id": np.repeat(np.arange(1, n_vehicles + 1), len(frames)),
        "frame": np.tile(frames, n_vehicles),
        "time_s": np.tile(time_s, n_vehicles),
        "frame_rate_hz": frame_rate_hz,
        "x_m": x_m.ravel(),
        "y_m": y_m.ravel(),
        "vx_mps": speed_mps,
        "vy_mps": vy_mps.ravel(),
        "ax_mps2": 0.0,
        "ay_mps2": 0.0,
        "length_m": 4.5,
        "width_m": 1.8,
        "lane": lane_now.ravel(),
        "vehicle_class": "Car",
        "driving_direction": direction,
    })
    return canonical.conform(table)


def write_platoons(data_dir: Path, count: int, **kwargs) -> Path:
    """`count` platoon recordings as canonical track files under data_dir/tracks; returns that folder."""
    folder = Path(data_dir) / "tracks"
    for number in range(count):
        recording_id = f"platoon_{number:02d}"
        canonical.write(platoon(recording_id, **kwargs), folder / f"{recording_id}.parquet")
    return folder
