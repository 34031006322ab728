"""The SUMO simulator (`simulate.backend=sumo`, optional extra `sumo`): the same highD-format recordings as the
highway-env backend, heterogeneous drivers, deterministic for any worker count, and data that cleans without loss."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import drivelab
from test_simulate import EPISODE, HEADERS, SEED, file_bytes, read_recording

pytest.importorskip("sumolib", reason="SUMO is an optional extra: pip install -e '.[sumo]'")
from drivelab.sim.recordings import write_recordings  # noqa: E402
from drivelab.sim.sumo_traffic import simulate_episode  # noqa: E402

SUMO_EPISODE = {**EPISODE, "duration_s": 30.0}


@pytest.fixture(scope="module")
def sumo_raw_dir(tmp_path_factory):
    raw_dir = tmp_path_factory.mktemp("sumo") / "raw"
    write_recordings(raw_dir, 2, SEED, 1, backend="sumo", **SUMO_EPISODE)
    return raw_dir


def test_recordings_have_the_highd_columns_every_vehicle_from_the_start(sumo_raw_dir):
    for recording_id in (1, 2):
        for name, header in HEADERS.items():
            assert (sumo_raw_dir / f"{recording_id:02d}_{name}.csv").read_text().splitlines()[0] == header
        tracks, tracks_meta, recording_meta = read_recording(sumo_raw_dir, recording_id)
        assert not tracks.isna().any().any()
        assert recording_meta["numVehicles"] == len(tracks_meta) == EPISODE["vehicles"]
        # Every vehicle enters at time 0 (none is held back and dropped in later mid-road).
        assert (tracks_meta["initialFrame"] == 1).all()
        assert (tracks_meta["numFrames"] == tracks_meta["finalFrame"] - tracks_meta["initialFrame"] + 1).all()
        assert set(tracks_meta["class"]) <= {"Car", "Truck"}


def test_drivers_differ_and_change_lanes_smoothly():
    tracks = simulate_episode(SEED, **SUMO_EPISODE)
    cars = tracks[tracks["vehicle_class"] == "Car"]
    assert cars.groupby("vehicle_id")["vx_mps"].mean().std() > 1.0  # each driver its own target speed
    changes = tracks.groupby("vehicle_id")["lane_index"].nunique() > 1
    assert changes.sum() >= 2
    lateral_step_m = tracks.groupby("vehicle_id")["y_m"].diff().abs().max()
    assert lateral_step_m < 0.5  # lane changes take seconds, not one step
    assert tracks["lane_index"].between(0, EPISODE["lanes"] - 1).all()


def test_recordings_are_byte_identical_for_any_worker_count(sumo_raw_dir, tmp_path):
    write_recordings(tmp_path / "raw", 2, SEED, 2, backend="sumo", **SUMO_EPISODE)
    assert file_bytes(tmp_path / "raw") == file_bytes(sumo_raw_dir)


def test_cli_simulation_prepares_with_nothing_quarantined(tmp_path):
    data_dir = tmp_path / "data"
    done = drivelab("simulate", "simulate.backend=sumo", "simulate.episodes=4", "simulate.duration_s=30",
                    f"paths.data_dir={data_dir}")
    assert "with sumo" in done.stdout
    drivelab("prepare", f"paths.data_dir={data_dir}")
    report = json.loads((data_dir / "clean_report.json").read_text())
    assert report["rows"]["quarantined"] == 0 and report["rows"]["kept"] == report["rows"]["in"] > 0
    assert sum(report["quarantined_tracks"].values()) == 0
    info = json.loads((data_dir / "windows" / "windows.json").read_text())
    assert info["splits"]["train"]["windows"] > 0 and info["summary"]["lane_change_fraction"] > 0
    kept = pd.read_parquet(data_dir / "tracks")
    assert np.isfinite(kept[["x_m", "y_m", "vx_mps", "vy_mps"]].to_numpy()).all()


def test_unknown_simulator_is_refused_in_one_line(tmp_path):
    done = drivelab("simulate", "simulate.backend=carla", f"paths.data_dir={tmp_path}", check=False)
    assert done.returncode != 0 and "simulate.backend='carla'" in done.stderr and "sumo" in done.stderr
    assert not (tmp_path / "raw").exists()
