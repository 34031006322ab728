"""Behaviour tests on constructed traffic scenes: situations whose right answer is known, built as canonical tracks
in world coordinates and cut into windows by the same code as the training data (`extract.make_windows`), then
given to the model as a deployed model sees them (`DeployedModel`: the input tensors alone).

Each test returns one figure in metres (or a count) that the gate compares with its threshold in `gate.behaviour`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from drivelab.data.windows.extract import make_windows
from drivelab.data.windows.spec import WindowSpec
from drivelab.export.interface import DeployedModel, batch_inputs

LANE_WIDTH_M = 3.5
CAR_LENGTH_M = 4.5
TARGET_ID = 1


@dataclass(frozen=True)
class Vehicle:
    """A vehicle driving at a constant velocity (its state at the present: t = 0) in a lane of a straight road."""
    track_id: int
    x_m: float
    lane: int
    speed_mps: float = 0.0
    lateral_mps: float = 0.0


def lane_centre_m(lane: int) -> float:
    return -lane * LANE_WIDTH_M  # lane 0 is the leftmost; y grows to the left


def scene_tracks(vehicles: Sequence[Vehicle], spec: WindowSpec,
                 offset_m: Tuple[float, float] = (0.0, 0.0)) -> pd.DataFrame:
    """Canonical track rows of every vehicle over the history and future around the present, shifted by `offset_m`."""
    steps = np.arange(-(spec.history_steps - 1), spec.future_steps + 1)
    times_s = steps / spec.sample_hz
    rows = []
    for vehicle in vehicles:
        x = offset_m[0] + vehicle.x_m + vehicle.speed_mps * times_s
        y = offset_m[1] + lane_centre_m(vehicle.lane) + vehicle.lateral_mps * times_s
        rows.append(pd.DataFrame({
            "recording_id": "scene", "track_id": vehicle.track_id, "frame": steps - steps[0],
            "time_s": times_s - times_s[0], "frame_rate_hz": float(spec.sample_hz), "x_m": x, "y_m": y,
            "vx_mps": vehicle.speed_mps, "vy_mps": vehicle.lateral_mps, "ax_mps2": 0.0, "ay_mps2": 0.0,
            "length_m": CAR_LENGTH_M, "width_m": 1.8, "lane": vehicle.lane, "vehicle_class": "Car",
            "driving_direction": 2}))
    return pd.concat(rows, ignore_index=True)


def scene_batch(vehicles: Sequence[Vehicle], spec: WindowSpec, lanes: int,
                offset_m: Tuple[float, float] = (0.0, 0.0)) -> Dict[str, torch.Tensor]:
    """The target's window at the present, as the windowing code cuts it (lane count from `lanes`)."""
    edge = Vehicle(-1, -10_000.0, lanes - 1)  # far behind, out of any radius: makes every lane exist
    windows = make_windows(scene_tracks([*vehicles, edge], spec, offset_m), spec)
    present_frame = spec.history_steps - 1
    row = np.flatnonzero((windows["track_id"] == TARGET_ID) & (windows["frame"] == present_frame))
    if len(row) != 1:
        raise RuntimeError("a constructed scene yielded no window for its target")
    return {name: torch.from_numpy(np.ascontiguousarray(array[row])) for name, array in windows.items()}


def predict(deployed: DeployedModel, batch: Dict[str, torch.Tensor], history_steps: int) -> List[np.ndarray]:
    """Every output of the deployed model for one scene; the first is the (most likely) positions."""
    with torch.no_grad():
        return [output[0].numpy() for output in deployed(*batch_inputs(batch, history_steps))]


def stopped_behind_stopped_leader(deployed: DeployedModel, spec: WindowSpec, settings: Any) -> float:
    """Farthest predicted distance (m) from where a stopped car waits 10 m behind a stopped leader."""
    scene = [Vehicle(TARGET_ID, 0.0, 1), Vehicle(2, 10.0, 1)]
    positions = predict(deployed, scene_batch(scene, spec, lanes=3), spec.history_steps)[0]
    return float(np.linalg.norm(positions, axis=-1).max())


def free_road(deployed: DeployedModel, spec: WindowSpec, settings: Any) -> Tuple[float, float]:
    """(largest lateral offset (m), largest deviation of the mean speed to each step (m/s)) predicted for a lone car
    cruising at `free_road_speed_mps` in the middle of three lanes."""
    speed = float(settings.free_road_speed_mps)
    positions = predict(deployed, scene_batch([Vehicle(TARGET_ID, 0.0, 1, speed)], spec, lanes=3),
                        spec.history_steps)[0]
    times_s = np.arange(1, spec.future_steps + 1) / spec.sample_hz
    return float(np.abs(positions[:, 1]).max()), float(np.abs(positions[:, 0] / times_s - speed).max())


def closing_on_stopped_leader(deployed: DeployedModel, spec: WindowSpec, settings: Any) -> float:
    """How far (m) the predicted front of a car closing at `closing_speed_mps` on a stopped leader
    `closing_gap_m` ahead in its lane reaches past the leader's rear (negative: it stays behind)."""
    gap_m = float(settings.closing_gap_m)
    scene = [Vehicle(TARGET_ID, 0.0, 1, float(settings.closing_speed_mps)), Vehicle(2, gap_m, 1)]
    positions = predict(deployed, scene_batch(scene, spec, lanes=3), spec.history_steps)[0]
    return float(positions[:, 0].max() - (gap_m - CAR_LENGTH_M))


def busy_scene(spec: WindowSpec, speed_mps: float, vehicles: int) -> List[Vehicle]:
    """The target in the middle of three lanes among `vehicles` others, ahead and behind, in every lane."""
    others = []
    for index in range(vehicles):
        lane = index % 3
        ahead = 1 if index % 2 == 0 else -1
        gap_m = 12.0 + 9.0 * (index // 2)
        if lane == 1 and gap_m < 15.0:
            gap_m = 15.0
        others.append(Vehicle(2 + index, ahead * gap_m, lane, speed_mps * (0.8 + 0.04 * (index % 6)),
                              0.3 if index % 5 == 0 else 0.0))
    return [Vehicle(TARGET_ID, 0.0, 1, speed_mps), *others]


def translation(deployed: DeployedModel, spec: WindowSpec, settings: Any) -> float:
    """Largest change (m) of any output when a busy scene is moved by `translation_offset_m` along and across the
    road (its lanes moving with it)."""
    scene = busy_scene(spec, 25.0, spec.max_neighbours)
    offset = tuple(float(value) for value in settings.translation_offset_m)
    here = predict(deployed, scene_batch(scene, spec, lanes=3), spec.history_steps)
    there = predict(deployed, scene_batch(scene, spec, lanes=3, offset_m=offset), spec.history_steps)
    return float(max(np.abs(a.astype(np.float64) - b).max() for a, b in zip(here, there)))


def non_finite_on_extreme_inputs(deployed: DeployedModel, spec: WindowSpec, settings: Any) -> int:
    """Non-finite output values over extreme but valid scenes: a lone car at `extreme_speed_mps`, a car standing
    still with nobody around, and a car at that speed with every neighbour slot filled."""
    speed = float(settings.extreme_speed_mps)
    scenes = [[Vehicle(TARGET_ID, 0.0, 0, speed)], [Vehicle(TARGET_ID, 0.0, 2)],
              busy_scene(spec, speed, spec.max_neighbours + 4)]
    count = 0
    for scene in scenes:
        for output in predict(deployed, scene_batch(scene, spec, lanes=3), spec.history_steps):
            count += int((~np.isfinite(output)).sum())
    return count
