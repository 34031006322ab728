"""Window maths against hand-computed cases, on highD files written from the format's specification."""

import numpy as np
import pytest

from drivelab.data import highd
from drivelab.data.windows import WindowSpec, intention_labels, make_windows, resample
from highd_files import Vehicle, write_recording

SPEC = WindowSpec(sample_hz=5, history_s=3.0, future_s=5.0, stride_s=1.0, max_neighbours=4, neighbour_radius_m=50.0)


def read(tmp_path, vehicles, frame_rate=25.0):
    write_recording(tmp_path, 1, vehicles, frame_rate)
    [recording] = highd.find_recordings(tmp_path)
    return highd.read_recording(recording, "rec_01")


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
