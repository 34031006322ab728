"""Simulated recordings: deterministic highD-format files with consistent geometry and neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drivelab.sim.recordings import write_recordings

LANES = 3
ROAD_LENGTH_M = 2500.0
SEED = 7

# The highD specification, spelled out here rather than imported, so the test checks the writer against it.
HIGHD_TRACKS = (
    "frame,id,x,y,width,height,xVelocity,yVelocity,xAcceleration,yAcceleration,frontSightDistance,"
    "backSightDistance,dhw,thw,ttc,precedingXVelocity,precedingId,followingId,leftPrecedingId,leftAlongsideId,"
    "leftFollowingId,rightPrecedingId,rightAlongsideId,rightFollowingId,laneId"
)
HIGHD_TRACKS_META = (
    "id,width,height,initialFrame,finalFrame,numFrames,class,drivingDirection,traveledDistance,minXVelocity,"
    "maxXVelocity,meanXVelocity,minDHW,minTHW,minTTC,numLaneChanges"
)
HIGHD_RECORDING_META = (
    "id,frameRate,locationId,speedLimit,month,weekDay,startTime,duration,totalDrivenDistance,totalDrivenTime,"
    "numVehicles,numCars,numTrucks,upperLaneMarkings,lowerLaneMarkings"
)
HEADERS = {"tracks": HIGHD_TRACKS, "tracksMeta": HIGHD_TRACKS_META, "recordingMeta": HIGHD_RECORDING_META}


# Keyword arguments of simulate_episode.
EPISODE = {"duration_s": 12.0, "sample_hz": 10, "lanes": LANES, "vehicles": 20, "speed_range_mps": [18.0, 34.0],
           "randomize_behavior": True, "truck_fraction": 0.2, "road_length_m": ROAD_LENGTH_M}


def simulate(raw_dir: Path, workers: int = 1, episodes: int = 2) -> Path:
    write_recordings(raw_dir, episodes, SEED, workers, **EPISODE)
    return raw_dir


def file_bytes(raw_dir: Path) -> dict:
    return {path.name: path.read_bytes() for path in sorted(raw_dir.glob("*.csv"))}


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    return simulate(tmp_path_factory.mktemp("sim") / "data" / "raw")


def read_recording(raw_dir: Path, recording_id: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    tracks = pd.read_csv(raw_dir / f"{recording_id:02d}_tracks.csv")
    tracks_meta = pd.read_csv(raw_dir / f"{recording_id:02d}_tracksMeta.csv")
    recording_meta = pd.read_csv(raw_dir / f"{recording_id:02d}_recordingMeta.csv").iloc[0]
    return tracks, tracks_meta, recording_meta


def markings(recording_meta: pd.Series, key: str) -> np.ndarray:
    return np.array([float(y) for y in recording_meta[key].split(";")])


def test_reruns_are_byte_identical_for_any_worker_count(raw_dir, tmp_path):
    first = file_bytes(raw_dir)
    names = ("recordingMeta", "tracks", "tracksMeta")
    assert sorted(first) == [f"{rid:02d}_{name}.csv" for rid in (1, 2) for name in names]

    assert file_bytes(simulate(tmp_path / "parallel", workers=2)) == first

    # A smaller rerun over a bigger one's output leaves none of its recordings, but keeps unrelated files.
    again = simulate(tmp_path / "again", episodes=3)
    (again / "notes.txt").write_text("not a recording")
    simulate(again)
    assert file_bytes(again) == first
    assert (again / "notes.txt").exists()


def test_files_have_highd_columns_and_parse(raw_dir):
    for recording_id in (1, 2):
        for name, header in HEADERS.items():
            path = raw_dir / f"{recording_id:02d}_{name}.csv"
            assert path.read_text().splitlines()[0] == header
        tracks, tracks_meta, recording_meta = read_recording(raw_dir, recording_id)
        assert not tracks.isna().any().any()
        assert all(pd.api.types.is_numeric_dtype(tracks[column]) for column in tracks.columns)
        assert tracks["frame"].min() == 1 and tracks.groupby("id").size().eq(120).all()
        assert recording_meta["frameRate"] == 10 and recording_meta["duration"] == pytest.approx(12.0)
        assert recording_meta["numVehicles"] == len(tracks_meta) == tracks["id"].nunique()
        assert recording_meta["numCars"] + recording_meta["numTrucks"] == recording_meta["numVehicles"]
        assert set(tracks_meta["class"]) <= {"Car", "Truck"}
        trucks = tracks_meta[tracks_meta["class"] == "Truck"]
        assert trucks["width"].between(12.0, 16.0).all() and (trucks["height"] == 2.5).all()
        assert (tracks_meta["numFrames"] == tracks_meta["finalFrame"] - tracks_meta["initialFrame"] + 1).all()


@pytest.mark.parametrize("recording_id", [1, 2])
def test_geometry_matches_direction_and_lane_markings(raw_dir, recording_id):
    from drivelab.sim.traffic import simulate_episode

    tracks, tracks_meta, recording_meta = read_recording(raw_dir, recording_id)
    upper = markings(recording_meta, "upperLaneMarkings")
    lower = markings(recording_meta, "lowerLaneMarkings")
    assert len(upper) == len(lower) == LANES + 1 and upper[-1] < lower[0]
    centre_x = tracks["x"] + tracks["width"] / 2
    centre_y = tracks["y"] + tracks["height"] / 2

    simulated = simulate_episode(SEED + recording_id - 1, **EPISODE)
    assert len(simulated) == len(tracks)
    if recording_id % 2 == 0:
        assert (tracks["xVelocity"] > 0).all() and (tracks_meta["drivingDirection"] == 2).all()
        assert np.allclose(centre_x, simulated["x_m"], atol=2e-3)
        assert np.allclose(centre_y, lower[0] + 2.0 + simulated["y_m"], atol=2e-3)
        assert tracks["laneId"].between(LANES + 3, 2 * LANES + 2).all()
        lane_top = lower[tracks["laneId"] - (LANES + 3)]
        lane_bottom = lower[tracks["laneId"] - (LANES + 2)]
    else:
        assert (tracks["xVelocity"] < 0).all() and (tracks_meta["drivingDirection"] == 1).all()
        assert np.allclose(centre_x, ROAD_LENGTH_M - simulated["x_m"], atol=2e-3)
        assert np.allclose(centre_y, upper[-1] - 2.0 - simulated["y_m"], atol=2e-3)
        assert tracks["laneId"].between(2, LANES + 1).all()
        lane_top = upper[tracks["laneId"] - 2]
        lane_bottom = upper[tracks["laneId"] - 1]
    assert ((centre_y >= lane_top - 2e-3) & (centre_y <= lane_bottom + 2e-3)).all()
    assert (tracks_meta["numLaneChanges"] > 0).any()


@pytest.mark.parametrize("recording_id", [1, 2])
def test_neighbours_are_consistent(raw_dir, recording_id):
    tracks, _, _ = read_recording(raw_dir, recording_id)
    forward = 1.0 if recording_id % 2 == 0 else -1.0  # +x on the lower carriageway, -x on the upper one
    # On the upper carriageway the drivers' left (toward the median) is the larger laneId, below them.
    left_lane_step = -1 if forward > 0 else 1
    state = tracks[["frame", "id", "width", "laneId"]].assign(centre=tracks["x"] + tracks["width"] / 2)

    def pairs(column: str) -> pd.DataFrame:
        linked = tracks.loc[tracks[column] > 0, ["frame", "id", column, "dhw"]]
        return linked.merge(state, on=["frame", "id"]).merge(
            state, left_on=["frame", column], right_on=["frame", "id"], suffixes=("", "_other")
        )

    preceding = pairs("precedingId")
    assert len(preceding) > 0
    assert (preceding["laneId_other"] == preceding["laneId"]).all()
    assert (forward * (preceding["centre_other"] - preceding["centre"]) > 0).all()
    half_lengths = (preceding["width"] + preceding["width_other"]) / 2
    gap = forward * (preceding["centre_other"] - preceding["centre"]) - half_lengths
    assert np.allclose(preceding["dhw"], gap.clip(lower=0), atol=3e-3)
    assert (tracks.loc[tracks["precedingId"] == 0, "dhw"] == 0).all()

    # B precedes A exactly when A follows B: both columns list the same (frame, follower, leader) links.
    by_preceding = tracks.loc[tracks["precedingId"] > 0, ["frame", "id", "precedingId"]].to_numpy()
    by_following = tracks.loc[tracks["followingId"] > 0, ["frame", "followingId", "id"]].to_numpy()
    assert sorted(map(tuple, by_preceding)) == sorted(map(tuple, by_following))

    for side, lane_step in (("left", left_lane_step), ("right", -left_lane_step)):
        for position in ("Preceding", "Alongside", "Following"):
            linked = pairs(f"{side}{position}Id")
            assert (linked["laneId_other"] == linked["laneId"] + lane_step).all()
            ahead_m = forward * (linked["centre_other"] - linked["centre"])
            half_lengths = (linked["width"] + linked["width_other"]) / 2
            if position == "Preceding":
                assert (ahead_m > half_lengths).all()
            elif position == "Following":
                assert (-ahead_m > half_lengths).all()
            else:
                assert (ahead_m.abs() <= half_lengths).all()
