"""The table every simulator returns for one episode: one row per (vehicle, step), built from dense (frame, vehicle)
grids of positions and lanes. Velocities and accelerations come from the positions, so that they agree with the
logged motion whatever the simulator's own notion of speed."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = [
    "frame", "vehicle_id", "x_m", "y_m", "vx_mps", "vy_mps", "ax_mps2", "ay_mps2",
    "lane_index", "length_m", "width_m", "vehicle_class",
]


def episode_table(x: np.ndarray, y: np.ndarray, lane: np.ndarray, lengths: np.ndarray, widths: np.ndarray,
                  is_truck: np.ndarray, dt_s: float) -> pd.DataFrame:
    """Rows sorted by vehicle_id then frame. x, y (vehicle centre; x along the road, y lateral and growing with the
    lane index, lane 0 = drivers' leftmost centred at y = 0) and lane are (frames, vehicles) grids, NaN where a
    vehicle is not on the road; vehicle ids are the grid columns + 1."""
    vx = time_derivative(x, dt_s)
    vy = time_derivative(y, dt_s)
    ax = time_derivative(vx, dt_s)
    ay = time_derivative(vy, dt_s)
    present = ~np.isnan(x)
    frame_idx, vehicle_idx = np.nonzero(present)
    classes = np.where(is_truck, "Truck", "Car")
    tracks = pd.DataFrame(
        {
            "frame": frame_idx.astype(np.int64),
            "vehicle_id": vehicle_idx.astype(np.int64) + 1,
            "x_m": x[present],
            "y_m": y[present],
            "vx_mps": vx[present],
            "vy_mps": vy[present],
            "ax_mps2": ax[present],
            "ay_mps2": ay[present],
            "lane_index": lane[present].astype(np.int64),
            "length_m": np.asarray(lengths, float)[vehicle_idx],
            "width_m": np.asarray(widths, float)[vehicle_idx],
            "vehicle_class": classes[vehicle_idx],
        },
        columns=COLUMNS,
    )
    return tracks.sort_values(["vehicle_id", "frame"], kind="stable").reset_index(drop=True)


def time_derivative(values: np.ndarray, dt_s: float) -> np.ndarray:
    """Finite-difference derivative along frames (axis 0), per vehicle over the frames it is present."""
    derivative = np.full_like(values, np.nan)
    for column in range(values.shape[1]):
        present = np.flatnonzero(~np.isnan(values[:, column]))
        if len(present) >= 2:
            derivative[present, column] = np.gradient(values[present, column], dt_s)
        elif len(present) == 1:
            derivative[present, column] = 0.0
    return derivative
