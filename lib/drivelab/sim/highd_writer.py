"""Write one simulated episode as a highD recording (tracks, tracksMeta, recordingMeta CSV files).

The simulation's frame (x along the road, y growing with the lane index, lane 0 = drivers' leftmost lane) is
placed into a highD-like image: even recording ids drive on the lower carriageway toward +x (drivingDirection 2),
odd ids on the upper carriageway toward -x (drivingDirection 1), which is the simulation rotated by 180 degrees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TRACKS_COLUMNS = [
    "frame", "id", "x", "y", "width", "height", "xVelocity", "yVelocity", "xAcceleration", "yAcceleration",
    "frontSightDistance", "backSightDistance", "dhw", "thw", "ttc", "precedingXVelocity", "precedingId",
    "followingId", "leftPrecedingId", "leftAlongsideId", "leftFollowingId", "rightPrecedingId",
    "rightAlongsideId", "rightFollowingId", "laneId",
]
TRACKS_META_COLUMNS = [
    "id", "width", "height", "initialFrame", "finalFrame", "numFrames", "class", "drivingDirection",
    "traveledDistance", "minXVelocity", "maxXVelocity", "meanXVelocity", "minDHW", "minTHW", "minTTC",
    "numLaneChanges",
]
NEIGHBOUR_ID_COLUMNS = [
    "precedingId", "followingId", "leftPrecedingId", "leftAlongsideId", "leftFollowingId", "rightPrecedingId",
    "rightAlongsideId", "rightFollowingId",
]
RECORDING_META_COLUMNS = [
    "id", "frameRate", "locationId", "speedLimit", "month", "weekDay", "startTime", "duration",
    "totalDrivenDistance", "totalDrivenTime", "numVehicles", "numCars", "numTrucks", "upperLaneMarkings",
    "lowerLaneMarkings",
]

UPPER_TOP_M = 8.0  # image y of the upper carriageway's outer marking (room for highD's laneId 1 above it)
MEDIAN_WIDTH_M = 4.0  # gap between the two carriageways' inner markings
FLOAT_FORMAT = "%.3f"
SIMULATED = "simulated"  # month, weekDay and startTime of a simulated recording


def lane_markings(lanes: int, lane_width_m: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Image y of the upper and lower carriageways' lane markings, each from top to bottom."""
    upper = UPPER_TOP_M + lane_width_m * np.arange(lanes + 1)
    lower = upper[-1] + MEDIAN_WIDTH_M + lane_width_m * np.arange(lanes + 1)
    return upper, lower


def driving_direction(recording_id: int) -> int:
    """highD drivingDirection of a simulated recording: 2 (lower, +x) for even ids, 1 (upper, -x) for odd."""
    return 2 if recording_id % 2 == 0 else 1


def write_highd_recording(
    tracks: pd.DataFrame,
    out_dir: Path,
    recording_id: int,
    road_length_m: float,
    lanes: int,
    sample_hz: int,
    lane_width_m: float = 4.0,
) -> list[Path]:
    """Write `tracks` (drivelab.sim.traffic's DataFrame) as `{id:02d}_*.csv` into out_dir; returns the paths."""
    direction = driving_direction(recording_id)
    image_tracks = _to_highd_tracks(tracks, recording_id, road_length_m, lanes, lane_width_m)
    tracks_meta = _tracks_meta(image_tracks, tracks, direction)
    recording_meta = _recording_meta(image_tracks, tracks_meta, recording_id, lanes, sample_hz, lane_width_m)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{recording_id:02d}_{name}.csv" for name in ("tracks", "tracksMeta", "recordingMeta")]
    for frame, path in zip((image_tracks, tracks_meta, recording_meta), paths):
        _formatted_floats(_clean_floats(frame)).to_csv(path, index=False, lineterminator="\n")
    return paths


def _to_highd_tracks(tracks, recording_id, road_length_m, lanes, lane_width_m) -> pd.DataFrame:
    tracks = tracks.sort_values(["vehicle_id", "frame"], kind="stable").reset_index(drop=True)
    upper, lower = lane_markings(lanes, lane_width_m)
    lane = tracks["lane_index"].to_numpy()
    if driving_direction(recording_id) == 2:
        sign = 1.0
        centre_x = tracks["x_m"].to_numpy()
        centre_y = lower[0] + lane_width_m / 2 + tracks["y_m"].to_numpy()
        lane_id = lanes + 3 + lane
    else:
        # 180-degree rotation: the drivers' leftmost lane (0) ends up next to the median, at the largest y.
        sign = -1.0
        centre_x = road_length_m - tracks["x_m"].to_numpy()
        centre_y = upper[-1] - lane_width_m / 2 - tracks["y_m"].to_numpy()
        lane_id = lanes + 1 - lane
    length = tracks["length_m"].to_numpy()
    width = tracks["width_m"].to_numpy()
    neighbours = _neighbours(tracks)
    x_velocity = sign * tracks["vx_mps"].to_numpy()

    out = pd.DataFrame(
        {
            "frame": tracks["frame"].to_numpy() + 1,  # highD frames start at 1
            "id": tracks["vehicle_id"].to_numpy(),
            "x": centre_x - length / 2,
            "y": centre_y - width / 2,
            "width": length,
            "height": width,
            "xVelocity": x_velocity,
            "yVelocity": sign * tracks["vy_mps"].to_numpy(),
            "xAcceleration": sign * tracks["ax_mps2"].to_numpy(),
            "yAcceleration": sign * tracks["ay_mps2"].to_numpy(),
            # Sight distances along the driving direction, the same in both carriageways.
            "frontSightDistance": road_length_m - tracks["x_m"].to_numpy(),
            "backSightDistance": tracks["x_m"].to_numpy(),
            "dhw": neighbours["dhw"],
            "thw": neighbours["thw"],
            "ttc": neighbours["ttc"],
            "precedingXVelocity": sign * neighbours["preceding_speed"],
            **{column: neighbours[column] for column in NEIGHBOUR_ID_COLUMNS},
            "laneId": lane_id,
        },
        columns=TRACKS_COLUMNS,
    )
    return out


def _neighbours(tracks: pd.DataFrame) -> dict[str, np.ndarray]:
    """Neighbour ids and headway measures per row, from dense (frame, ego, other) comparisons.

    Everything is in the drivers' frame: s forward, lane k with k - 1 on the driver's left. In the same lane,
    centres decide who is ahead; in adjacent lanes, a vehicle is preceding when its rear bumper is ahead of the
    ego's front bumper, following when its front bumper is behind the ego's rear bumper, and alongside otherwise.
    """
    ids, vehicle_idx = np.unique(tracks["vehicle_id"].to_numpy(), return_inverse=True)
    frames, frame_idx = np.unique(tracks["frame"].to_numpy(), return_inverse=True)
    shape = (len(frames), len(ids))
    s = _dense(shape, frame_idx, vehicle_idx, tracks["x_m"])
    lane = _dense(shape, frame_idx, vehicle_idx, tracks["lane_index"])
    speed = _dense(shape, frame_idx, vehicle_idx, tracks["vx_mps"])
    length = np.zeros(len(ids))
    length[vehicle_idx] = tracks["length_m"].to_numpy()

    # [frame, ego, other]
    ahead_m = s[:, None, :] - s[:, :, None]
    half_lengths_m = (length[:, None] + length[None, :]) / 2
    front_gap_m = ahead_m - half_lengths_m
    back_gap_m = -ahead_m - half_lengths_m
    lane_offset = lane[:, None, :] - lane[:, :, None]
    both_present = ~np.isnan(ahead_m) & ~np.eye(len(ids), dtype=bool)

    same_lane = both_present & (lane_offset == 0)
    preceding = _nearest(same_lane & (ahead_m > 0), ahead_m)
    following = _nearest(same_lane & (ahead_m < 0), -ahead_m)
    result = {"precedingId": preceding, "followingId": following}
    for side, offset in (("left", -1), ("right", 1)):
        side_lane = both_present & (lane_offset == offset)
        result[f"{side}PrecedingId"] = _nearest(side_lane & (front_gap_m > 0), front_gap_m)
        result[f"{side}AlongsideId"] = _nearest(side_lane & (front_gap_m <= 0) & (back_gap_m <= 0), np.abs(ahead_m))
        result[f"{side}FollowingId"] = _nearest(side_lane & (back_gap_m > 0), back_gap_m)

    has_preceding = preceding >= 0
    other = np.where(has_preceding, preceding, 0)
    frame_rows = np.arange(len(frames))[:, None]
    ego_cols = np.arange(len(ids))[None, :]
    # Overlapping bumpers only follow a collision; report them as zero headway.
    dhw = np.where(has_preceding, np.maximum(front_gap_m[frame_rows, ego_cols, other], 0.0), 0.0)
    preceding_speed = np.where(has_preceding, speed[frame_rows, other], 0.0)
    moving = has_preceding & (speed > 0)
    thw = np.where(moving, dhw / np.where(moving, speed, 1.0), 0.0)
    closing = has_preceding & (speed > preceding_speed)
    ttc = np.where(closing, dhw / np.where(closing, speed - preceding_speed, 1.0), 0.0)

    rows = (frame_idx, vehicle_idx)
    out = {name: np.where(index[rows] >= 0, ids[np.maximum(index[rows], 0)], 0) for name, index in result.items()}
    out.update(dhw=dhw[rows], thw=thw[rows], ttc=ttc[rows], preceding_speed=preceding_speed[rows])
    return out


def _dense(shape, frame_idx, vehicle_idx, values: pd.Series) -> np.ndarray:
    grid = np.full(shape, np.nan)
    grid[frame_idx, vehicle_idx] = values.to_numpy(dtype=float)
    return grid


def _nearest(candidates: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Index of the candidate with the smallest distance along the last axis, -1 where there is none."""
    masked = np.where(candidates, distance, np.inf)
    best = np.argmin(masked, axis=-1)
    return np.where(np.isfinite(np.min(masked, axis=-1)), best, -1)


def _tracks_meta(image_tracks: pd.DataFrame, tracks: pd.DataFrame, direction: int) -> pd.DataFrame:
    by_id = image_tracks.assign(
        speed=image_tracks["xVelocity"].abs(),
        # highD reports minima of headway measures only over frames where they are defined (> 0), else -1.
        dhw_defined=image_tracks["dhw"].where(image_tracks["dhw"] > 0),
        thw_defined=image_tracks["thw"].where(image_tracks["thw"] > 0),
        ttc_defined=image_tracks["ttc"].where(image_tracks["ttc"] > 0),
        lane_change=image_tracks.groupby("id")["laneId"].diff().fillna(0).ne(0),
        centre_x=image_tracks["x"] + image_tracks["width"] / 2,
    ).groupby("id", sort=True)
    meta = by_id.agg(
        width=("width", "first"),
        height=("height", "first"),
        initialFrame=("frame", "min"),
        finalFrame=("frame", "max"),
        numFrames=("frame", "size"),
        first_x=("centre_x", "first"),
        last_x=("centre_x", "last"),
        minXVelocity=("speed", "min"),
        maxXVelocity=("speed", "max"),
        meanXVelocity=("speed", "mean"),
        minDHW=("dhw_defined", "min"),
        minTHW=("thw_defined", "min"),
        minTTC=("ttc_defined", "min"),
        numLaneChanges=("lane_change", "sum"),
    ).reset_index()
    vehicle_class = tracks.groupby("vehicle_id", sort=True)["vehicle_class"].first()
    meta["class"] = vehicle_class.loc[meta["id"]].to_numpy()
    meta["drivingDirection"] = direction
    meta["traveledDistance"] = (meta["last_x"] - meta["first_x"]).abs()
    meta[["minDHW", "minTHW", "minTTC"]] = meta[["minDHW", "minTHW", "minTTC"]].fillna(-1.0)
    meta["numLaneChanges"] = meta["numLaneChanges"].astype(np.int64)
    return meta[TRACKS_META_COLUMNS]


def _recording_meta(image_tracks, tracks_meta, recording_id, lanes, sample_hz, lane_width_m) -> pd.DataFrame:
    upper, lower = lane_markings(lanes, lane_width_m)
    vehicle_class = tracks_meta["class"]
    row = {
        "id": recording_id,
        "frameRate": sample_hz,
        "locationId": 0,
        "speedLimit": -1.0,
        "month": SIMULATED,
        "weekDay": SIMULATED,
        "startTime": SIMULATED,
        "duration": image_tracks["frame"].max() / sample_hz,
        "totalDrivenDistance": tracks_meta["traveledDistance"].sum(),
        "totalDrivenTime": tracks_meta["numFrames"].sum() / sample_hz,
        "numVehicles": len(tracks_meta),
        "numCars": int((vehicle_class == "Car").sum()),
        "numTrucks": int((vehicle_class == "Truck").sum()),
        "upperLaneMarkings": ";".join(f"{y:.2f}" for y in upper),
        "lowerLaneMarkings": ";".join(f"{y:.2f}" for y in lower),
    }
    return pd.DataFrame([row], columns=RECORDING_META_COLUMNS)


def _clean_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Round float columns to the written precision and turn -0.0 into 0.0, so output text is stable."""
    frame = frame.copy()
    for column in frame.select_dtypes("float").columns:
        frame[column] = np.round(frame[column].to_numpy(), 3) + 0.0
    return frame


def _formatted_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns as FLOAT_FORMAT text (empty for NaN, as pandas writes it): the same bytes as
    `to_csv(float_format=...)`, whose per-value formatter took most of an episode's writing time."""
    frame = frame.copy()
    for column in frame.select_dtypes("float").columns:
        values = frame[column].to_numpy()
        frame[column] = ["" if value != value else FLOAT_FORMAT % value for value in values.tolist()]
    return frame
