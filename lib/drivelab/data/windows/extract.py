"""Canonical tracks -> target-centric training windows (the highway prediction protocol).

A window is one target vehicle at one present time: its history (present included), its future, and the histories of
its nearest neighbours on the same carriageway, all relative to the target's present position (x forward, y left).
It also keeps the target's lane at every history and future step and the carriageway's lane count, so that
transforms that move the present or mirror the road (`drivelab.data.windows.augment`) can recompute the labels exactly.
Everything is vectorised per carriageway over a dense (vehicle, time step) grid.

Lanes may be unknown (`canonical.UNKNOWN_LANE`, e.g. INTERACTION). A window whose target lane is unknown at any of
its steps (`lanes_known` is false) keeps `lane` = -1 at those steps, `lane_count` 0 when its carriageway has no known
lane, `intention` = `UNKNOWN_INTENTION` and `lane_change` false; that flag means "changes lane" only where
`lanes_known` holds, and every reader (slices, health, augmentations, lane features) asks `lanes_known` first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from drivelab.data.tracks import canonical
from drivelab.data.windows.spec import WindowSpec
from drivelab.pool import PoolSettings, as_pool, run_tasks

FEATURES = ("x_m", "y_m", "vx_mps", "vy_mps")  # per history point, target and neighbours alike
INTENTIONS = ("keep", "left", "right")  # lane-change intention classes, in label order
UNKNOWN_INTENTION = -1  # the label of a window whose lanes are unknown: no class at all, not "keep"
POOL_MIN_BYTES = 32 * 2**20  # less track data than this is windowed faster in one process than a pool starts


def resample(tracks: pd.DataFrame, sample_hz: int) -> pd.DataFrame:
    """Tracks of one recording on a grid of `sample_hz`, with an integer `step` (time_s * sample_hz).

    Rates that are a multiple of `sample_hz` (highD 25 Hz, NGSIM and simulation 10 Hz) keep the frames on the grid;
    any other rate is linearly interpolated per track (lane and class from the preceding source row).
    """
    if tracks.empty:
        return tracks.assign(step=pd.Series(dtype="int64"))
    rates = tracks["frame_rate_hz"].unique()
    if len(rates) != 1:
        raise ValueError(f"recording {tracks['recording_id'].iloc[0]} mixes frame rates {sorted(rates)}")
    ratio = float(rates[0]) / sample_hz
    if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
        every = int(round(ratio))
        on_grid = tracks[tracks["frame"] % every == 0]
        return on_grid.assign(step=(on_grid["frame"] // every).astype("int64")).reset_index(drop=True)
    return _interpolate(tracks, sample_hz)


def _interpolate(tracks: pd.DataFrame, sample_hz: int) -> pd.DataFrame:
    numeric = ["x_m", "y_m", "vx_mps", "vy_mps", "ax_mps2", "ay_mps2"]
    pieces = []
    for _, track in tracks.groupby("track_id", sort=True):
        time_s = track["time_s"].to_numpy()
        steps = np.arange(np.ceil(time_s[0] * sample_hz - 1e-9), np.floor(time_s[-1] * sample_hz + 1e-9) + 1)
        if steps.size == 0:
            continue
        grid_s = steps / sample_hz
        source_row = np.clip(np.searchsorted(time_s, grid_s + 1e-9, side="right") - 1, 0, len(track) - 1)
        piece = track.iloc[source_row].reset_index(drop=True).copy()
        for column in numeric:
            piece[column] = np.interp(grid_s, time_s, track[column].to_numpy())
        piece["time_s"] = grid_s
        piece["step"] = steps.astype("int64")
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def make_windows(tracks: pd.DataFrame, spec: WindowSpec) -> Dict[str, np.ndarray]:
    """All windows of one recording (both carriageways), resampled to `spec.sample_hz`."""
    return _sampled_windows(resample(tracks, spec.sample_hz), spec)


def _sampled_windows(sampled: pd.DataFrame, spec: WindowSpec) -> Dict[str, np.ndarray]:
    parts = [_carriageway_windows(group, spec) for _, group in sampled.groupby("driving_direction", sort=True)]
    parts = [part for part in parts if len(part["history"])]
    return concatenate(parts) if parts else empty_windows(spec)


def recording_windows(path: Path, spec: WindowSpec, recording_index: int) -> Tuple[Dict[str, np.ndarray], Dict[str, int]]:
    """The windows of one canonical track file, tagged with `recording_index`, and the rows in and out of each step."""
    table = canonical.read(path)
    sampled = resample(table, spec.sample_hz)
    windows = _sampled_windows(sampled, spec)
    windows["recording"] = np.full(len(windows["history"]), recording_index, np.int32)
    flow = {
        "track_rows": len(table),
        "resampled_rows": len(sampled),
        "tracks": int(table["track_id"].nunique()),
        "tracks_with_windows": int(len(np.unique(windows["track_id"]))),
        "windows": int(len(windows["history"])),
        "frame_rate_hz": float(table["frame_rate_hz"].iloc[0]) if len(table) else 0.0,  # for time splits
    }
    return windows, flow


def windows_by_recording(paths: Sequence[Path], spec: WindowSpec, indices: Sequence[int],
                         workers: Union[int, PoolSettings] = 1,
                         min_pool_bytes: int = POOL_MIN_BYTES) -> Iterator[Tuple[Dict[str, np.ndarray], Dict[str, int]]]:
    """`recording_windows` of every path, in the given order wherever the tasks run (`drivelab.pool`).

    Local worker processes take seconds to start, so they are used only for at least `min_pool_bytes` of track
    files; a Dask cluster, asked for explicitly, always gets the tasks. Up to about two recordings' windows per
    worker are in flight.
    """
    settings = as_pool(workers)
    jobs = [(Path(path), spec, int(index)) for path, index in zip(paths, indices)]
    if not settings.on_cluster and sum(path.stat().st_size for path, _, _ in jobs) < min_pool_bytes:
        settings = PoolSettings(workers=1)
    return run_tasks(recording_windows, jobs, settings)


def empty_windows(spec: WindowSpec) -> Dict[str, np.ndarray]:
    n_features = len(FEATURES)
    return {
        "history": np.zeros((0, spec.history_steps, n_features), np.float32),
        "future": np.zeros((0, spec.future_steps, 2), np.float32),
        "neighbours": np.zeros((0, spec.max_neighbours, spec.history_steps, n_features), np.float32),
        "neighbour_mask": np.zeros((0, spec.max_neighbours, spec.history_steps), bool),
        "track_id": np.zeros(0, np.int64),
        "frame": np.zeros(0, np.int64),
        "lane_change": np.zeros(0, bool),
        "intention": np.zeros(0, np.int8),
        "lane": np.zeros((0, spec.history_steps + spec.future_steps), np.int8),
        "lane_count": np.zeros(0, np.int8),
    }


def concatenate(parts: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _carriageway_windows(sampled: pd.DataFrame, spec: WindowSpec) -> Dict[str, np.ndarray]:
    history_steps, future_steps = spec.history_steps, spec.future_steps
    track_ids, vehicle = np.unique(sampled["track_id"].to_numpy(), return_inverse=True)
    first_step = int(sampled["step"].min())
    time = sampled["step"].to_numpy() - first_step
    n_vehicles, n_times = len(track_ids), int(time.max()) + 1

    state = np.full((n_vehicles, n_times, len(FEATURES)), np.nan)
    state[vehicle, time] = sampled[list(FEATURES)].to_numpy(float)
    lane = np.full((n_vehicles, n_times), -1, np.int16)
    lane[vehicle, time] = sampled["lane"].to_numpy()
    frame = np.zeros((n_vehicles, n_times), np.int64)
    frame[vehicle, time] = sampled["frame"].to_numpy()
    valid = ~np.isnan(state[..., 0])
    lane_count = max(0, int(sampled["lane"].max()) + 1)  # lanes seen on this carriageway (0: none known)

    # A present time t needs every step from t - history + 1 to t + future observed.
    span = history_steps + future_steps
    observed = np.concatenate([np.zeros((n_vehicles, 1), int), np.cumsum(valid, axis=1)], axis=1)
    present = np.arange(history_steps - 1, n_times - future_steps)
    complete = observed[:, present + future_steps + 1] - observed[:, present - history_steps + 1] == span
    on_stride = (present + first_step) % spec.stride_steps == 0
    target, present_index = np.nonzero(complete & on_stride[None, :])
    if target.size == 0:
        return empty_windows(spec)
    present_time = present[present_index]

    parts = []
    for t in np.unique(present_time):
        targets = target[present_time == t]
        parts.append(_windows_at(state, valid, lane, frame, targets, int(t), spec))
    windows = concatenate(parts)
    windows["track_id"] = track_ids[windows.pop("vehicle")]
    windows["lane_count"] = np.full(len(windows["track_id"]), lane_count, np.int8)
    return windows


def _windows_at(state, valid, lane, frame, targets, t, spec: WindowSpec) -> Dict[str, np.ndarray]:
    history = slice(t - spec.history_steps + 1, t + 1)
    future = slice(t + 1, t + spec.future_steps + 1)
    origin = state[targets, t, :2]  # target-centric frame: the target's present position

    # Nearest neighbours present now, on this carriageway, within the radius.
    distance = np.linalg.norm(state[None, :, t, :2] - origin[:, None, :], axis=-1)
    distance[:, ~valid[:, t]] = np.inf
    distance[np.arange(len(targets)), targets] = np.inf
    distance[distance > spec.neighbour_radius_m] = np.inf
    n_slots = spec.max_neighbours
    if distance.shape[1] < n_slots:
        distance = np.pad(distance, ((0, 0), (0, n_slots - distance.shape[1])), constant_values=np.inf)
    order = np.argsort(distance, axis=1, kind="stable")[:, :n_slots]
    present_neighbour = np.isfinite(np.take_along_axis(distance, order, axis=1))
    order = np.where(present_neighbour, order, 0)

    block = state[:, history]  # (vehicles, history, features)
    neighbours = block[order].copy()
    mask = valid[:, history][order] & present_neighbour[:, :, None]
    neighbours[..., :2] -= origin[:, None, None, :]
    neighbours[~mask] = 0.0

    target_history = block[targets].copy()
    target_history[..., :2] -= origin[:, None, :]
    target_future = state[targets, future, :2] - origin[:, None, :]

    present_lane = lane[targets, t]
    future_lane = lane[targets, future]
    span_lane = lane[targets, t - spec.history_steps + 1 : t + spec.future_steps + 1]
    changes_lane = (future_lane != present_lane[:, None]).any(axis=1) & lanes_known(span_lane)
    return {
        "history": target_history.astype(np.float32),
        "future": target_future.astype(np.float32),
        "neighbours": neighbours.astype(np.float32),
        "neighbour_mask": mask,
        "vehicle": targets,
        "frame": frame[targets, t],
        "lane_change": changes_lane,
        "intention": intention_labels(present_lane, future_lane[:, : spec.intention_steps]),
        "lane": span_lane.astype(np.int8),
    }


def lanes_known(lane):
    """Per window, whether the target's lane is known at every step of `lane` ((windows, steps), numpy or torch)."""
    return (lane >= 0).all(1)


def intention_labels(present_lane: np.ndarray, future_lane: np.ndarray) -> np.ndarray:
    """0 keep, 1 left, 2 right: the direction of the first lane change in `future_lane` (lane 0 is leftmost);
    `UNKNOWN_INTENTION` where a lane is unknown."""
    changed = future_lane != present_lane[:, None]
    any_change = changed.any(axis=1)
    first = np.argmax(changed, axis=1)
    first_lane = future_lane[np.arange(len(future_lane)), first]
    labels = np.zeros(len(present_lane), np.int8)
    labels[any_change & (first_lane < present_lane)] = 1
    labels[any_change & (first_lane > present_lane)] = 2
    labels[(present_lane < 0) | ~lanes_known(future_lane)] = UNKNOWN_INTENTION
    return labels


def constant_velocity(history: np.ndarray, future_steps: int, sample_hz: int) -> np.ndarray:
    """Positions predicted by holding the present velocity (the physics baseline), shape (n, future_steps, 2)."""
    times_s = np.arange(1, future_steps + 1) / sample_hz
    return history[:, -1, None, 2:4] * times_s[None, :, None]
