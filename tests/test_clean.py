"""Clean: each defect of real files is quarantined (or repaired) and counted; every source line is accounted for."""

import numpy as np
import pandas as pd
import pytest

from drivelab.data.tracks.clean import QUARANTINE_COLUMNS
from drivelab.errors import DrivelabError
from highd_files import Vehicle, read_lines, write_lines, write_recording
from ingest_clean import ingest_and_clean
from ngsim_files import NgsimVehicle, write_trajectories

# Two vehicles of 250 frames (lines 2..251 and 252..501 of 01_tracks.csv), one per carriageway.
VEHICLES = [Vehicle(1, 2, centre_x=100, centre_y=24, x_velocity=20), Vehicle(2, 1, centre_x=400, centre_y=12, x_velocity=-25)]


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    write_recording(folder, 1, VEHICLES)
    return folder


def damage(folder, file_name, edit):
    """Rewrite one fixture file through `edit(lines) -> lines` (lines[0] is the header)."""
    path = folder / file_name
    write_lines(path, edit(read_lines(path)))


def set_field(line, column, value):
    fields = line.split(",")
    fields[["frame", "id", "x", "y", "width", "height", "xVelocity"].index(column)] = value
    return ",".join(fields)


def run(tmp_path, folder, **kwargs):
    return ingest_and_clean(folder, tmp_path / "data", **kwargs)


def test_clean_files_lose_nothing(tmp_path, source):
    cleaned = run(tmp_path, source)
    assert cleaned.report["rows"] == {"in": 500, "kept": 500, "repaired": 0, "quarantined": 0}
    assert cleaned.report["tracks"] == {"in": 2, "kept": 2, "removed": 0}
    assert len(cleaned.quarantine) == 0 and list(cleaned.quarantine.columns) == list(QUARANTINE_COLUMNS)


def test_truncated_last_line_is_quarantined_with_its_line_number_and_text(tmp_path, source):
    path = source / "01_tracks.csv"
    lines = read_lines(path)
    write_lines(path, lines[:-1] + [lines[-1][:12]], final_newline=False)
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"unparsable_line": 1}
    [row] = cleaned.quarantine.itertuples()
    assert (row.source_line, row.raw_text, row.recording_id) == (501, lines[-1][:12], "rec_01")
    assert row.source_file == str(path) and "expected 25" in row.detail
    assert len(cleaned.tracks) == 499


def test_non_numeric_value_quarantines_its_row_and_names_the_column(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: lines[:10] + [set_field(lines[10], "y", "2x.5")] + lines[11:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"non_numeric": 1}
    [row] = cleaned.quarantine.itertuples()
    assert row.source_line == 11 and row.detail == "column 'y' = '2x.5'" and "2x.5" in row.raw_text
    vehicle_1 = cleaned.tracks[cleaned.tracks["track_id"] == 1]
    assert len(vehicle_1) == 249 and 10 not in set(vehicle_1["frame"])


def test_binary_garbage_and_a_stray_quote_stay_on_their_own_lines(tmp_path, source):
    path = source / "01_tracks.csv"
    lines = path.read_bytes().split(b"\n")
    lines[60] = b'"' + lines[60]
    path.write_bytes(b"\n".join(lines[:100] + [b"\xff\xfe\x00garbage"] + lines[100:]))
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"unparsable_line": 1, "non_numeric": 1}
    assert cleaned.quarantine["source_line"].tolist() == [61, 101]
    assert cleaned.quarantine["detail"].tolist()[0] == "column 'frame' = '\"60'"
    assert cleaned.report["rows"]["kept"] == 499


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", ""])
def test_nan_inf_or_empty_values_quarantine_their_rows(tmp_path, source, value):
    damage(source, "01_tracks.csv", lambda lines: lines[:20] + [set_field(lines[20], "xVelocity", value)] + lines[21:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"nan_or_inf": 1}
    assert cleaned.quarantine["source_line"].tolist() == [21]
    assert cleaned.quarantine["detail"].iloc[0] == "vx_mps is missing, NaN or infinite"


def test_value_outside_the_schema_range_quarantines_its_row(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: lines[:30] + [set_field(lines[30], "height", "0")] + lines[31:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"out_of_range": 1}
    assert cleaned.quarantine["detail"].iloc[0] == "width_m = 0.0 is not in [0.3, 6] m"


def test_exact_duplicate_rows_are_repaired_by_keeping_one_copy(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: lines[:41] + [lines[40], lines[40]] + lines[41:])
    cleaned = run(tmp_path, source)
    assert cleaned.report["rows"] == {"in": 502, "kept": 500, "repaired": 1, "quarantined": 2}
    assert cleaned.reasons() == {"duplicate_exact": 2}
    assert set(cleaned.quarantine["detail"]) == {"identical to line 41"}
    assert not cleaned.tracks.duplicated(["recording_id", "track_id", "frame"]).any()


def test_conflicting_duplicates_are_all_quarantined(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: lines[:51] + [set_field(lines[50], "y", "23.5")] + lines[51:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"duplicate_conflict": 2}
    assert sorted(cleaned.quarantine["source_line"]) == [51, 52]
    assert cleaned.report["rows"]["kept"] == 499


def test_lone_position_spike_quarantines_only_that_row(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: lines[:100] + [set_field(lines[100], "x", "140.0")] + lines[101:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"position_spike": 1}
    assert cleaned.quarantine["source_line"].tolist() == [101]
    assert cleaned.report["tracks"]["kept"] == 2


def test_spike_on_the_first_row_of_a_track_goes_alone(tmp_path, source):
    damage(source, "01_tracks.csv", lambda lines: [lines[0], set_field(lines[1], "x", "60.0")] + lines[2:])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"position_spike": 1}
    assert cleaned.quarantine["source_line"].tolist() == [2]


def test_position_jump_quarantines_the_whole_track(tmp_path, source):
    def teleport(lines):
        shifted = [set_field(line, "x", str(float(line.split(",")[2]) + 60)) for line in lines[120:251]]
        return lines[:120] + shifted + lines[251:]

    cleaned = run(tmp_path, source)
    assert cleaned.report["rows"]["quarantined"] == 0
    damage(source, "01_tracks.csv", teleport)
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"position_jump": 250}
    assert cleaned.report["quarantined_tracks"]["position_jump"] == 1
    assert set(cleaned.tracks["track_id"]) == {2}
    assert cleaned.quarantine["detail"].str.startswith("position jump at t = 4.8 s").all()


def test_track_without_a_meta_row_is_quarantined(tmp_path, source):
    damage(source, "01_tracksMeta.csv", lambda lines: lines[:2])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"not_in_meta": 250}
    assert cleaned.report["quarantined_tracks"]["not_in_meta"] == 1
    assert cleaned.quarantine["detail"].iloc[0] == "id 2 has no row in 01_tracksMeta.csv"
    assert cleaned.report["notes"]["declared_vehicle_count_differs"] == 0


def test_track_whose_meta_row_is_unusable_is_quarantined_with_the_reason(tmp_path, source):
    damage(source, "01_tracksMeta.csv", lambda lines: [lines[0], lines[1], lines[2].replace(",Car,1,", ",Car,3,")])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"not_in_meta": 250}
    assert set(cleaned.quarantine["detail"]) == {"tracksMeta drivingDirection '3' is neither 1 nor 2"}


def test_track_moving_against_its_meta_direction_is_quarantined(tmp_path, source):
    damage(source, "01_tracksMeta.csv", lambda lines: [lines[0], lines[1], lines[2].replace(",Car,1,", ",Car,2,")])
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"direction_mismatch": 250}
    assert set(cleaned.tracks["track_id"]) == {1}


def test_rows_outside_the_meta_frames_are_quarantined_and_meta_without_rows_noted(tmp_path, source):
    def shorten(lines):
        fields = lines[1].split(",")
        fields[4] = "240"  # finalFrame of vehicle 1
        return [lines[0], ",".join(fields), lines[2], lines[2].replace("2,", "3,", 1)]

    damage(source, "01_tracksMeta.csv", shorten)
    cleaned = run(tmp_path, source)
    assert cleaned.reasons() == {"outside_meta_frames": 10}
    assert cleaned.report["notes"]["meta_vehicles_without_rows"] == 1
    assert cleaned.report["notes"]["tracks_frame_count_unlike_meta"] == 0


def test_empty_recording_is_counted_and_skipped(tmp_path, source):
    write_recording(source, 2, [])
    cleaned = run(tmp_path, source)
    assert cleaned.report["recordings"] == {"in": 2, "kept": 1, "empty": 1, "without_kept_rows": 1}
    assert cleaned.report["per_recording"]["rec_02"]["rows"]["in"] == 0
    assert sorted(path.name for path in (cleaned.data_dir / "tracks").glob("*.parquet")) == ["rec_01.parquet"]


def test_nothing_surviving_is_a_clear_error_that_still_writes_the_report(tmp_path):
    write_recording(tmp_path / "src", 1, [])
    with pytest.raises(DrivelabError, match="no row of 1 recordings survived cleaning"):
        run(tmp_path, tmp_path / "src")
    assert (tmp_path / "data" / "clean_report.json").is_file()


def test_every_source_line_is_kept_or_quarantined_exactly_once(tmp_path, source):
    def many_defects(lines):
        body = lines[1:]
        body[5] = set_field(body[5], "x", "abc")
        body[6] = set_field(body[6], "y", "nan")
        body[7] = body[7][:7]
        body.insert(8, "")
        body.insert(9, body[10])
        body[300] = set_field(body[300], "xVelocity", "500")
        return [lines[0]] + body

    damage(source, "01_tracks.csv", many_defects)
    cleaned = run(tmp_path, source)
    lines_in = len(read_lines(source / "01_tracks.csv")) - 1
    assert cleaned.report["rows"]["in"] == lines_in == cleaned.report["rows"]["kept"] + len(cleaned.quarantine)
    assert cleaned.reasons() == {"unparsable_line": 2, "non_numeric": 1, "nan_or_inf": 1, "out_of_range": 1,
                                 "duplicate_exact": 1}
    raw = pd.read_parquet(tmp_path / "data" / "tracks_raw" / "rec_01" / "tracks.parquet")
    first_copy = raw.groupby(["track_id", "frame"], as_index=False)["source_line"].min()
    kept_lines = cleaned.tracks[["track_id", "frame"]].merge(first_copy, on=["track_id", "frame"])["source_line"]
    every_line = np.concatenate([kept_lines.to_numpy(), cleaned.quarantine["source_line"].to_numpy(np.int64)])
    assert np.array_equal(np.sort(every_line), np.arange(2, lines_in + 2))


def test_ngsim_defects_are_quarantined_like_highd_ones(tmp_path):
    source = write_trajectories(tmp_path / "us101.txt", [NgsimVehicle(1, 1, 6.0, 50.0, 40.0), NgsimVehicle(2, 2, 18.0, 80.0, 45.0)])
    lines = read_lines(source)
    lines[3] = lines[3].replace(" 2 ", " x ", 1)
    lines[150] = lines[150] + " 7"
    write_lines(source, lines + [lines[-1][:30]], final_newline=False)
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="ngsim", name="ngsim")
    assert cleaned.reasons() == {"non_numeric": 1, "unparsable_line": 2}
    assert sorted(cleaned.quarantine["source_line"]) == [4, 151, 201]
    assert cleaned.report["rows"] == {"in": 201, "kept": 198, "repaired": 0, "quarantined": 3}
