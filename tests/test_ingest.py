"""Ingest: highD and NGSIM files (written from the published formats) become canonical tracks; bad files are
one-line errors naming the file."""

import hashlib

import numpy as np
import pytest

from conftest import drivelab
from drivelab.data.tracks import ingest
from drivelab.data.tracks.delimited import FileFormatError
from drivelab.errors import DrivelabError
from highd_files import Vehicle, read_lines, write_lines, write_recording
from ingest_clean import ingest_and_clean
from ngsim_files import NgsimVehicle, write_trajectories

FT = 0.3048


def test_vehicle_moving_left_in_the_image_drives_forward_and_keeps_its_lateral_sign(tmp_path):
    # Upper carriageway, moving toward decreasing image x and down the image (toward the median = its left).
    write_recording(tmp_path / "src", 1, [Vehicle(7, direction=1, centre_x=300, centre_y=12, x_velocity=-25, y_velocity=0.4)])
    cleaned = ingest_and_clean(tmp_path / "src", tmp_path / "data")
    track = cleaned.tracks
    assert cleaned.report["rows"] == {"in": 250, "kept": 250, "repaired": 0, "quarantined": 0}
    assert (np.diff(track["x_m"]) > 0).all() and (track["vx_mps"] == 25).all()
    assert (track["vy_mps"] == 0.4).all() and (np.diff(track["y_m"]) > 0).all()
    assert track["x_m"].iloc[0] == pytest.approx(-300) and track["y_m"].iloc[0] == pytest.approx(12)


def test_vehicle_moving_right_in_the_image_keeps_x_and_mirrors_y(tmp_path):
    write_recording(tmp_path / "src", 1, [Vehicle(3, direction=2, centre_x=100, centre_y=24, x_velocity=30, y_velocity=0.4)])
    track = ingest_and_clean(tmp_path / "src", tmp_path / "data").tracks
    assert track["x_m"].iloc[0] == pytest.approx(100) and (track["vx_mps"] == 30).all()
    assert (track["vy_mps"] == -0.4).all()  # moving down the image is moving to this driver's right
    assert track["recording_id"].iloc[0] == "rec_01"


def test_ngsim_feet_become_metres_at_the_vehicle_centre(tmp_path):
    source = write_trajectories(tmp_path / "trajectories-0750am-0805am.txt",
                                [NgsimVehicle(5, lane_id=2, local_x_ft=18.0, local_y_ft=100.0, speed_ftps=50.0, length_ft=16.0,
                                              width_ft=6.5, v_class=3, first_frame=11, frames=40)])
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="ngsim", name="ngsim")
    first = cleaned.tracks.iloc[0]
    assert first.recording_id == "ngsim_trajectories-0750am-0805am" and first.track_id == 5 and first.frame == 11
    assert first.x_m == pytest.approx((100.0 - 16.0 / 2) * FT)  # Local_Y is the front centre
    assert first.y_m == pytest.approx(-18.0 * FT)  # Local_X grows to the right; canonical +y is left
    assert first.vx_mps == pytest.approx(50 * FT) and first.length_m == pytest.approx(16 * FT)
    assert first.width_m == pytest.approx(6.5 * FT)
    assert first.time_s == pytest.approx(1.1) and first.frame_rate_hz == 10
    assert first.lane == 1 and first.vehicle_class == "Truck"
    np.testing.assert_allclose(np.diff(cleaned.tracks["x_m"]), 5.0 * FT, rtol=1e-6)


def test_ngsim_drift_to_the_right_is_negative_lateral_speed(tmp_path):
    source = write_trajectories(tmp_path / "a.txt", [NgsimVehicle(1, 1, 6.0, 50.0, 40.0, lateral_ftps=2.0)])
    track = ingest_and_clean(source, tmp_path / "data", source_format="ngsim").tracks
    np.testing.assert_allclose(track["vy_mps"], -2.0 * FT, rtol=1e-3)


def test_ngsim_vehicle_ids_are_unique_per_file_only(tmp_path):
    for name in ("a", "b"):
        write_trajectories(tmp_path / "src" / f"{name}.txt", [NgsimVehicle(1, 1, 6.0, 50.0, 40.0)])
    (tmp_path / "src" / "README.md").write_text("not a trajectory file")
    cleaned = ingest_and_clean(tmp_path / "src", tmp_path / "data", source_format="ngsim", name="us101")
    assert sorted(cleaned.tracks.groupby("recording_id")["track_id"].unique().index) == ["us101_a", "us101_b"]
    assert sorted(path.name for path in (tmp_path / "data" / "tracks").glob("*.parquet")) == ["us101_a.parquet", "us101_b.parquet"]


def test_missing_required_highd_column_is_an_error_naming_file_and_column(tmp_path):
    write_recording(tmp_path, 1, [Vehicle(1, 2, 100, 24, 20)])
    lines = read_lines(tmp_path / "01_tracks.csv")
    fields = [line.split(",") for line in lines]
    drop = fields[0].index("xVelocity")
    write_lines(tmp_path / "01_tracks.csv", [",".join(f[:drop] + f[drop + 1:]) for f in fields])
    with pytest.raises(FileFormatError, match=r"01_tracks\.csv: missing required column 'xVelocity'"):
        ingest.ingest(tmp_path / "data", "highd", "rec", str(tmp_path), 1)


def test_missing_meta_column_is_an_error_naming_the_meta_file(tmp_path):
    write_recording(tmp_path, 1, [Vehicle(1, 2, 100, 24, 20)])
    lines = read_lines(tmp_path / "01_tracksMeta.csv")
    write_lines(tmp_path / "01_tracksMeta.csv", [line.replace("drivingDirection", "direction") for line in lines])
    with pytest.raises(FileFormatError, match=r"01_tracksMeta\.csv: missing required column 'drivingDirection'"):
        ingest.ingest(tmp_path / "data", "highd", "rec", str(tmp_path), 1)


def test_ngsim_file_without_its_18_columns_is_an_error_naming_the_file(tmp_path):
    source = write_trajectories(tmp_path / "short.txt", [NgsimVehicle(1, 1, 6.0, 50.0, 40.0)])
    write_lines(source, [line.rsplit(None, 1)[0] for line in read_lines(source)])
    with pytest.raises(FileFormatError, match=r"short\.txt: line 1 has 17 columns, NGSIM raw trajectory files have 18"):
        ingest.ingest(tmp_path / "data", "ngsim", "ngsim", str(source), 1)


@pytest.mark.parametrize("source_format,file_name", [("highd", "01_tracks.csv"), ("highd", "01_recordingMeta.csv"),
                                                     ("ngsim", "a.txt")])
def test_empty_file_is_an_error_naming_it(tmp_path, source_format, file_name):
    if source_format == "highd":
        write_recording(tmp_path, 1, [Vehicle(1, 2, 100, 24, 20)])
    (tmp_path / file_name).write_bytes(b"")
    with pytest.raises(FileFormatError, match=rf"{file_name}: empty file"):
        ingest.ingest(tmp_path / "data", source_format, "rec", str(tmp_path), 1)


def test_unknown_format_and_missing_folder_are_refused(tmp_path):
    with pytest.raises(DrivelabError, match="source.format='csv' is not supported; choose one of: highd, ngsim"):
        ingest.discover("csv", "x", str(tmp_path))
    with pytest.raises(DrivelabError, match="no highD recordings"):
        ingest.discover("highd", "x", str(tmp_path))


def test_two_workers_write_the_same_tracks_as_one(tmp_path):
    for number in (1, 2, 3):
        write_recording(tmp_path / "src", number, [Vehicle(number, 2, 100, 24, 20), Vehicle(9, 1, 300, 12, -30)])
    one = ingest_and_clean(tmp_path / "src", tmp_path / "one", workers=1)
    two = ingest_and_clean(tmp_path / "src", tmp_path / "two", workers=2)
    assert one.tracks.equals(two.tracks)
    assert one.report == two.report


@pytest.mark.slow
def test_prepare_command_ingests_a_highd_folder_and_leaves_it_untouched(tmp_path):
    source = tmp_path / "highd"
    for number in (1, 2, 3):
        write_recording(source, number, [Vehicle(1, 2, 100, 24, 20), Vehicle(2, 1, 300, 12, -25)])
    lines = read_lines(source / "02_tracks.csv")
    write_lines(source / "02_tracks.csv", lines + [lines[-1][:9]], final_newline=False)  # a truncated last line
    before = {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in source.iterdir()}
    done = drivelab("prepare", "source=highd", f"source.path={source}", f"paths.data_dir={tmp_path / 'out'}")
    assert "1 quarantined" in done.stdout and "unparsable_line: 1 rows" in done.stdout
    assert (tmp_path / "out" / "windows").is_dir() and (tmp_path / "out" / "clean_report.json").is_file()
    assert before == {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in source.iterdir()}


@pytest.mark.slow
def test_prepare_command_reports_a_missing_column_in_one_line(tmp_path):
    source = write_trajectories(tmp_path / "us101.txt", [NgsimVehicle(1, 1, 6.0, 50.0, 40.0)])
    write_lines(source, [line.rsplit(None, 2)[0] for line in read_lines(source)])
    done = drivelab("prepare", "source=ngsim", f"source.path={source}", f"paths.data_dir={tmp_path / 'out'}", check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"drivelab prepare: error: {source}: line 1 has 16 columns")
    assert "Traceback" not in done.stderr
