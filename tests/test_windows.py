"""Window maths against hand-computed cases, on highD files written from the format's specification."""

import numpy as np
import pytest

from drivelab.data.tracks import canonical, highd
from drivelab.data.windows import store
from drivelab.data.tracks.canonical import UNKNOWN_LANE
from drivelab.data.windows.extract import UNKNOWN_INTENTION, intention_labels, lanes_known, make_windows, resample
from drivelab.data.windows.spec import WindowSpec
from drivelab.lineage import dvc_dir_md5
from highd_files import Vehicle, write_recording

SPEC = WindowSpec(sample_hz=5, history_s=3.0, future_s=5.0, stride_s=1.0, max_neighbours=4, neighbour_radius_m=50.0)


def read(tmp_path, vehicles, frame_rate=25.0):
    write_recording(tmp_path, 1, vehicles, frame_rate)
    [recording] = highd.find_recordings(tmp_path)
    return canonical.conform(highd.read_recording(recording, "rec_01").tracks)


def test_lower_carriageway_drives_forward_and_right_is_negative_y(tmp_path):
    tracks = read(tmp_path, [Vehicle(1, direction=2, centre_x=100, centre_y=24, x_velocity=20, y_velocity=0.5)])
    first = tracks.iloc[0]
    assert first.x_m == pytest.approx(100) and first.y_m == pytest.approx(-24)
    assert first.vx_mps == 20 and first.vy_mps == -0.5  # moving down the image is moving right for this driver
    assert first.lane == 0  # top lane below the median is the driver's leftmost


def test_upper_carriageway_is_mirrored_so_forward_is_plus_x(tmp_path):
    tracks = read(tmp_path, [Vehicle(2, direction=1, centre_x=300, centre_y=12, x_velocity=-25, y_velocity=0.5)])
    first = tracks.iloc[0]
    assert first.x_m == pytest.approx(-300) and first.y_m == pytest.approx(12)
    assert first.vx_mps == 25 and first.vy_mps == 0.5  # moving down the image is toward the median: left
    assert first.lane == 1  # the top lane above the median is the driver's rightmost
    assert tracks["x_m"].is_monotonic_increasing


@pytest.mark.parametrize("direction,centre_y,x_velocity", [(2, 24.0, 20.0), (1, 12.0, -25.0)])
def test_window_of_constant_velocity_vehicle(tmp_path, direction, centre_y, x_velocity):
    tracks = read(tmp_path, [Vehicle(1, direction, centre_x=200, centre_y=centre_y, x_velocity=x_velocity)])
    windows = make_windows(tracks, SPEC)
    # 250 frames at 25 Hz = 10 s -> 5 Hz steps 0..49 (frames 5..250); present needs 15 steps before, 25 after.
    assert len(windows["history"]) == 2
    speed = abs(x_velocity)
    times_s = np.arange(1, 26) / 5
    np.testing.assert_allclose(windows["future"][0, :, 0], speed * times_s, rtol=1e-5)
    np.testing.assert_allclose(windows["future"][0, :, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(windows["history"][0, -1], [0, 0, speed, 0], atol=1e-5)
    np.testing.assert_allclose(windows["history"][0, 0, 0], -3 * speed, rtol=1e-5)
    assert not windows["neighbour_mask"].any()
    assert not windows["lane_change"].any()


def test_neighbours_come_from_the_same_carriageway_only(tmp_path):
    vehicles = [
        Vehicle(1, 2, centre_x=200, centre_y=24, x_velocity=20),
        Vehicle(2, 2, centre_x=220, centre_y=28, x_velocity=20),  # 20 m ahead, one lane to the right
        Vehicle(3, 1, centre_x=210, centre_y=12, x_velocity=-20),  # other carriageway, close in image space
    ]
    windows = make_windows(read(tmp_path, vehicles), SPEC)
    first = np.flatnonzero(windows["track_id"] == 1)[0]
    mask = windows["neighbour_mask"][first]
    assert mask[0].all() and not mask[1:].any()
    np.testing.assert_allclose(windows["neighbours"][first, 0, -1], [20, -4, 20, 0], atol=1e-4)


def test_resampling_keeps_frames_on_the_5hz_grid_and_interpolates_other_rates(tmp_path):
    tracks = read(tmp_path, [Vehicle(1, 2, 100, 24, 20)], frame_rate=25.0)
    sampled = resample(tracks, 5)
    assert (sampled["frame"] % 5 == 0).all()
    np.testing.assert_allclose(np.diff(sampled["time_s"]), 0.2)
    odd_rate = read(tmp_path / "odd", [Vehicle(1, 2, 100, 24, 20, last_frame=120)], frame_rate=12.0)
    sampled = resample(odd_rate, 5)
    np.testing.assert_allclose(np.diff(sampled["time_s"]), 0.2)
    np.testing.assert_allclose(np.diff(sampled["x_m"]), 20 * 0.2, rtol=1e-6)


def test_intention_is_the_direction_of_the_first_lane_change():
    present = np.array([1, 1, 1, 1])
    future = np.array([[1, 1, 1], [1, 0, 0], [2, 2, 1], [1, 2, 1]])
    assert intention_labels(present, future).tolist() == [0, 1, 2, 2]


def test_unknown_lanes_give_no_intention_and_no_lane_change():
    from track_tables import platoon

    table = platoon("rec", change_left_at_s=9.0).assign(lane=UNKNOWN_LANE)  # the changing car is not "kept"
    windows = make_windows(table, SPEC)
    assert len(windows["history"]) and not lanes_known(windows["lane"]).any()
    assert (windows["intention"] == UNKNOWN_INTENTION).all() and not windows["lane_change"].any()
    assert (windows["lane_count"] == 0).all()


# --- data versions: normalisation, determinism, shards (canonical tracks built by hand in track_tables.py) ---

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}


def build_platoons(tmp_path, count=6, shard_bytes=1 << 27, workers=1, folder="windows", min_pool_bytes=0, **platoon):
    from drivelab.data.windows.build import build
    from track_tables import write_platoons

    tracks_dir = write_platoons(tmp_path, count, **platoon) if not (tmp_path / "tracks").is_dir() else tmp_path / "tracks"
    return build(tracks_dir, tmp_path / folder, SPEC, SPLIT, shard_bytes, workers, min_pool_bytes)


def test_normalisation_is_fitted_on_the_training_split_only(tmp_path):
    from track_tables import platoon

    for number in range(6):  # every recording drives at its own speed, so each split has its own mean speed
        canonical.write(platoon(f"rec_{number}", speed_mps=20.0 + number**2), tmp_path / "tracks" / f"rec_{number}.parquet")
    info = build_platoons(tmp_path)
    train_speeds = [20.0 + int(rid.split("_")[1]) ** 2 for rid in info["splits"]["train"]["recordings"]]
    assert info["normalisation"]["history_mean"][2] == pytest.approx(np.mean(train_speeds), abs=1e-5)
    assert np.mean(train_speeds) != pytest.approx(20.0 + np.mean(np.arange(6) ** 2))  # all recordings' mean differs
    history = store.open_split(tmp_path / "windows", "train")["history"].reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(info["normalisation"]["history_std"], np.maximum(history.std(axis=0), 1e-3), atol=1e-5)


def test_windows_are_byte_identical_for_any_worker_count_and_rebuild(tmp_path):
    build_platoons(tmp_path, workers=1, folder="one")
    build_platoons(tmp_path, workers=2, folder="two")
    first = dvc_dir_md5(tmp_path / "one")
    assert dvc_dir_md5(tmp_path / "two") == first
    build_platoons(tmp_path, workers=1, folder="one")
    assert dvc_dir_md5(tmp_path / "one") == first


def test_shards_hold_the_same_windows_whatever_the_shard_size(tmp_path):
    whole = build_platoons(tmp_path, folder="whole")
    window_bytes = store.window_bytes(store.open_split(tmp_path / "whole", "train").shards[0])
    sharded = build_platoons(tmp_path, folder="sharded", shard_bytes=25 * window_bytes)
    assert whole["splits"]["train"]["shards"] == 1 and sharded["splits"]["train"]["shards"] > 5
    assert whole["normalisation"] == sharded["normalisation"]
    one, many = store.open_split(tmp_path / "whole", "train"), store.open_split(tmp_path / "sharded", "train")
    assert len(one) == len(many) == whole["splits"]["train"]["windows"]
    for indices in (np.arange(len(one)), np.random.default_rng(0).permutation(len(one))[:100]):  # ordered and not
        expected, gathered = one.gather(indices), many.gather(indices)
        assert set(gathered) == set(expected)
        for name in expected:
            np.testing.assert_array_equal(gathered[name], expected[name])


def test_windows_store_the_target_lane_per_step_and_the_intention(tmp_path):
    from track_tables import platoon

    windows = make_windows(platoon("rec", change_left_at_s=9.0), SPEC)
    assert windows["lane"].shape == (len(windows["history"]), SPEC.history_steps + SPEC.future_steps)
    assert (windows["lane_count"] == 2).all()
    changing = windows["intention"] == 1  # left: to a lower lane index
    assert changing.any() and not (windows["intention"] == 2).any()
    present, upcoming = windows["lane"][:, SPEC.history_steps - 1], windows["lane"][:, SPEC.history_steps :]
    np.testing.assert_array_equal(windows["lane_change"], (upcoming != present[:, None]).any(axis=1))
    assert (present[changing] == 1).all() and (upcoming[changing, -1] == 0).all()


def test_tracks_too_short_for_any_training_window_are_a_clear_error(tmp_path):
    from drivelab.errors import DrivelabError

    with pytest.raises(DrivelabError, match="no training windows"):
        build_platoons(tmp_path, duration_s=5.0)
