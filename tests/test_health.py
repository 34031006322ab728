"""The data health report: exact figures on hand-built platoons, the pipeline's flow records, and the command."""

import json

import pytest

from conftest import drivelab, read_json
from drivelab.data.health import report as health
from drivelab.data.tracks import canonical
from drivelab.data.tracks.canonical import UNKNOWN_LANE
from drivelab.data.windows.build import build
from drivelab.lineage import dvc_dir_md5
from track_tables import platoon, write_platoons
from window_specs import default_spec

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}


def platoon_version(tmp_path, **platoon):
    """6 recordings of 2 lanes x 3 cars, 30 m apart at 20 m/s for 20 s: 12 windows per car, 432 in all."""
    write_platoons(tmp_path, 6, **platoon)
    build(tmp_path / "tracks", tmp_path / "windows", default_spec(max_neighbours=8, neighbour_radius_m=50.0), SPLIT, 1 << 27, 1)
    return health.report(tmp_path / "windows", tmp_path)


def test_health_report_of_platoons_gives_their_known_figures(tmp_path):
    report = platoon_version(tmp_path)
    assert report["counts"]["windows"] == 432 and report["counts"]["recordings"] == 6
    assert report["counts"]["train"] == {"windows": 288, "recordings": 4}
    features = report["features"]
    assert features["speed_mps"]["p5"] == features["speed_mps"]["p95"] == 20.0
    assert features["acceleration_mps2"]["max"] == features["acceleration_mps2"]["min"] == 0.0
    # the car ahead in the lane is 30 m away, except for each lane's first car (a third of the windows)
    assert features["headway_m"]["mean"] == 30.0 and features["headway_m"]["missing_rate"] == pytest.approx(1 / 3, abs=1e-6)
    # within 50 m: the first and last car of a lane see 3 others, the middle one 5
    assert features["neighbour_count"]["mean"] == pytest.approx(11 / 3, abs=1e-4)
    assert report["missing"]["empty_neighbour_slot_rate"] == pytest.approx(1 - (11 / 3) / 8, abs=1e-6)
    assert report["missing"]["non_finite_value_rate"] == 0
    assert report["lane_change_rate"]["all"] == 0.0 and report["intention_share"]["keep"] == 1.0
    assert all(psi == 0.0 for psi in report["split_shift_psi"].values())
    assert report["flow"]["windows"] == {"rows_in": 6 * 6 * 200, "rows_out": 432, "resampled_rows": 6 * 6 * 100,
                                         "tracks_in": 36, "tracks_without_windows": 0}
    assert report["missing"]["tracks"]["rows"] == 6 * 6 * 200
    assert set(report["missing"]["tracks"]["null_rate"].values()) == {0.0}


def test_lane_change_rate_and_intention_share_count_the_changing_car(tmp_path):
    report = platoon_version(tmp_path, change_left_at_s=9.0)
    # its lane index switches at 10 s: 5 of its presents (5..9 s) see the change within 5 s, 3 (7..9 s) within 3 s
    assert report["lane_change_rate"]["all"] == pytest.approx(5 / 72, abs=1e-6)
    assert report["intention_share"]["left"] == pytest.approx(3 / 72, abs=1e-6)
    assert report["intention_share"]["right"] == 0.0


def test_a_version_without_lanes_reports_lane_changes_and_intentions_as_unknown(tmp_path):
    for number in range(6):
        table = platoon(f"rec_{number}", change_left_at_s=9.0).assign(lane=UNKNOWN_LANE)
        canonical.write(table, tmp_path / "tracks" / f"rec_{number}.parquet")
    build(tmp_path / "tracks", tmp_path / "windows", default_spec(), SPLIT, 1 << 27, 1)
    report = health.report(tmp_path / "windows", tmp_path)
    assert report["lane_change_rate"] == {"train": None, "val": None, "test": None, "all": None}
    assert set(report["intention_share"].values()) == {None}
    assert report["features"]["lane_change"]["missing_rate"] == 1.0
    assert "lane-change rate unknown (no lanes)" in health.format_report(report)


def test_flow_collects_ingest_clean_and_stage_records(tmp_path):
    (tmp_path / "tracks_raw").mkdir()
    (tmp_path / "tracks_raw" / "ingest.json").write_text(json.dumps({"data_lines": 120, "rows": 110, "rejected": 10,
                                                                        "recordings": 2, "seconds": 0.5}))
    (tmp_path / "clean_report.json").write_text(json.dumps({
        "rows": {"in": 110, "kept": 100, "repaired": 2, "quarantined": 10},
        "tracks": {"in": 5, "kept": 4},
        "quarantined_rows": {"non_finite": 6, "position_jump": 4, "duplicate_conflict": 0},
    }))
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "windows.json").write_text(json.dumps({"stage": "windows", "duration_s": 1.25}))
    stages = health.flow(tmp_path, {"flow": {"track_rows": 100, "windows": 7, "tracks": 4, "tracks_with_windows": 3}})
    assert list(stages) == ["ingest", "clean", "windows"]
    assert stages["ingest"] == {"rows_in": 120, "rows_out": 110, "rejected_rows": 10, "recordings": 2, "duration_s": 0.5}
    assert stages["clean"]["rows_in"] == 110 and stages["clean"]["rows_out"] == 100
    assert stages["clean"]["quarantined"] == {"non_finite": 6, "position_jump": 4}
    assert stages["windows"]["rows_in"] == 100 and stages["windows"]["tracks_without_windows"] == 1
    assert stages["windows"]["duration_s"] == 1.25


@pytest.mark.slow
def test_health_command_writes_metrics_and_plots_of_the_pipeline_data(sim_data_dir, tmp_path):
    done = drivelab("health", f"paths.data_dir={sim_data_dir}", f"health.output_dir={tmp_path}")
    report = read_json(tmp_path / "health.json")
    assert report["data_version"] == dvc_dir_md5(sim_data_dir / "windows")
    assert (tmp_path / "plots" / "features.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / "flow.png").stat().st_size > 5_000
    flow = report["flow"]
    assert {"ingest", "clean", "windows", "health"} <= set(flow)
    assert flow["clean"]["rows_out"] == flow["windows"]["rows_in"]  # every kept row reaches windowing
    assert flow["windows"]["duration_s"] > 0 and flow["windows"]["rows_out"] == report["counts"]["windows"]
    assert 10 < report["features"]["speed_mps"]["p50"] < 40
    assert 0.03 < report["lane_change_rate"]["all"] < 0.2
    assert "speed_mps" in done.stdout and "flow windows" in done.stdout
    summary = read_json(tmp_path / "summary.json")  # the DVC metrics: a handful of headline counts
    assert summary == {"rows_in": flow["clean"]["rows_in"], "rows_kept": flow["clean"]["rows_out"],
                       "rows_quarantined": flow["clean"]["quarantined_rows"],
                       "windows_train": report["counts"]["train"]["windows"],
                       "windows_val": report["counts"]["val"]["windows"],
                       "windows_test": report["counts"]["test"]["windows"]}
