"""INTERACTION track files (written from the published format, on roads that run in any map direction) become
canonical tracks whose forward is each vehicle's own direction of travel; lanes stay unknown all the way to batches."""

import numpy as np
import pytest
import torch

from conftest import drivelab
from drivelab.data.tracks import ingest, sources
from drivelab.data.tracks.canonical import UNKNOWN_LANE
from drivelab.data.tracks.delimited import FileFormatError
from drivelab.data.windows.extract import UNKNOWN_INTENTION, lanes_known, make_windows
from drivelab.errors import DrivelabError
from highd_files import read_lines, write_lines
from ingest_clean import ingest_and_clean
from interaction_files import Agent, write_tracks
from window_specs import default_spec

FORWARD, OPPOSITE, PEDESTRIAN = (1, 2, 3), (11, 12), 21
PEDESTRIAN_FRAMES = 50


def road(heading_deg: float) -> list:
    """Three cars driving toward `heading_deg`, two the other way 8-12 m to their left, and a pedestrian crossing."""
    back = heading_deg + 180.0
    return [
        Agent(1, heading_deg, along_m=0.0, speed_mps=20.0),
        Agent(2, heading_deg, along_m=20.0, left_m=-3.5, speed_mps=20.0),  # 20 m ahead, one lane to the right
        Agent(3, heading_deg, along_m=-30.0, speed_mps=18.0, acceleration_mps2=1.0),
        Agent(11, back, along_m=-200.0, left_m=-8.0, speed_mps=20.0),  # passes car 1 at 8 m after 5 s
        Agent(12, back, along_m=-180.0, left_m=-11.5, speed_mps=25.0),
        Agent(PEDESTRIAN, heading_deg + 90.0, along_m=60.0, speed_mps=1.5, agent_type="pedestrian/bicycle",
              length=1.0, width=1.0, frames=PEDESTRIAN_FRAMES),
    ]


def by_track(tracks):
    return {track_id: track.sort_values("frame") for track_id, track in tracks.groupby("track_id")}


@pytest.mark.parametrize("heading_deg", [30.0, 200.0])
def test_every_vehicle_drives_toward_plus_x_at_its_speed_whatever_the_road_direction(tmp_path, heading_deg):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", road(heading_deg))
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="interaction", name="inter")
    tracks = by_track(cleaned.tracks)
    assert sorted(tracks) == [*FORWARD, *OPPOSITE]
    for track_id, track in tracks.items():
        assert (np.diff(track["x_m"]) > 0).all(), track_id
        np.testing.assert_allclose(track["vy_mps"], 0.0, atol=0.01)
        np.testing.assert_allclose(np.diff(track["y_m"]), 0.0, atol=0.01)
    np.testing.assert_allclose(tracks[1]["vx_mps"], 20.0, atol=0.01)
    np.testing.assert_allclose(tracks[12]["vx_mps"], 25.0, atol=0.01)
    np.testing.assert_allclose(tracks[3]["vx_mps"], 18.0 + tracks[3]["time_s"] - tracks[3]["time_s"].iloc[0], atol=0.01)
    np.testing.assert_allclose(tracks[3]["ax_mps2"], 1.0, atol=0.05)
    np.testing.assert_allclose(tracks[1]["ax_mps2"], 0.0, atol=0.05)
    np.testing.assert_allclose(np.diff(tracks[1]["x_m"]), 2.0, atol=0.01)  # 20 m/s at 10 Hz
    np.testing.assert_allclose(tracks[2]["y_m"].to_numpy() - tracks[1]["y_m"].to_numpy(), -3.5, atol=0.01)
    np.testing.assert_allclose(tracks[2]["x_m"].to_numpy() - tracks[1]["x_m"].to_numpy(), 20.0, atol=0.01)
    assert (cleaned.tracks["lane"] == UNKNOWN_LANE).all() and cleaned.tracks["time_s"].iloc[0] == pytest.approx(0.1)


@pytest.mark.parametrize("heading_deg", [30.0, 200.0])
def test_opposite_directions_are_separate_carriageways(tmp_path, heading_deg):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", road(heading_deg))
    tracks = ingest_and_clean(source, tmp_path / "data", source_format="interaction").tracks
    direction = tracks.groupby("track_id")["driving_direction"].first()
    assert direction[list(FORWARD)].nunique() == 1 and direction[list(OPPOSITE)].nunique() == 1
    assert direction[FORWARD[0]] != direction[OPPOSITE[0]]


def test_neighbours_are_the_same_carriageways_vehicles_at_their_relative_positions(tmp_path):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", road(30.0))
    tracks = ingest_and_clean(source, tmp_path / "data", source_format="interaction").tracks
    windows = make_windows(tracks, default_spec())
    mine = np.flatnonzero(windows["track_id"] == 1)
    assert len(mine) >= 5
    for window in mine:
        present = windows["neighbour_mask"][window, :, -1]
        assert present.sum() == 2  # cars 2 and 3, never the cars 8-12 m away driving the other way
        now = windows["neighbours"][window, present, -1]
        ahead = now[np.argmax(now[:, 0])]
        np.testing.assert_allclose(ahead, [20.0, -3.5, 20.0, 0.0], atol=0.02)


def test_lanes_stay_unknown_in_windows_labels_and_health(tmp_path):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", road(200.0))
    windows = make_windows(ingest_and_clean(source, tmp_path / "data", source_format="interaction").tracks,
                           default_spec())
    assert len(windows["history"]) and not lanes_known(windows["lane"]).any()
    assert (windows["intention"] == UNKNOWN_INTENTION).all() and not windows["lane_change"].any()
    assert (windows["lane_count"] == 0).all()


def test_a_model_with_lane_features_trains_on_windows_without_lanes(tmp_path):
    from drivelab.config.validate import compose
    from drivelab.data.health import report
    from drivelab.data.windows.build import build
    from drivelab.data.windows.datamodule import WindowDataModule
    from drivelab.evaluation.slices import slice_masks
    from drivelab.runs.builder import build_model

    for number, heading_deg in enumerate([30.0, 200.0, 95.0, 310.0]):
        write_tracks(tmp_path / "src" / f"vehicle_tracks_{number:03d}.csv", road(heading_deg))
    ingest_and_clean(tmp_path / "src", tmp_path, source_format="interaction")
    build(tmp_path / "tracks", tmp_path / "windows", default_spec(), {"val_fraction": 0.25, "test_fraction": 0.25,
                                                                       "seed": 0}, 1 << 27, 1)
    datamodule = WindowDataModule(str(tmp_path / "windows"), batch_size=64)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    model = build_model(compose("train", ["model=mlp", "model.use_lanes=true"]).model, datamodule.shapes)
    loss = model.loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    masks = slice_masks(batch, datamodule.shapes["sample_hz"])
    assert masks["all"].all() and not masks["lane_change"].any() and not masks["lane_keep"].any()
    health = report.report(tmp_path / "windows", tmp_path)
    assert health["lane_change_rate"]["all"] is None and health["features"]["speed_mps"]["min"] > 17.0


def test_pedestrians_are_quarantined_and_counted_not_dropped(tmp_path):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", road(30.0))
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="interaction")
    assert cleaned.reasons() == {"not_motor_vehicle": PEDESTRIAN_FRAMES}
    assert cleaned.report["quarantined_tracks"]["not_motor_vehicle"] == 1
    assert cleaned.report["tracks"] == {"in": 6, "kept": 5, "removed": 1}
    assert set(cleaned.quarantine["track_id"]) == {PEDESTRIAN}
    assert cleaned.quarantine["detail"].iloc[0] == "agent_type 'pedestrian/bicycle' is not a motor vehicle"


@pytest.mark.parametrize("column,value,reason,detail", [
    ("x", "12a.5", "non_numeric", "column 'x' = '12a.5'"),
    ("y", "NaN", "nan_or_inf", "column 'y' is missing or not finite"),
    ("agent_type", "spaceship", "out_of_range", "agent_type 'spaceship' is none of car, truck"),
])
def test_a_bad_value_quarantines_its_row_with_the_reason(tmp_path, column, value, reason, detail):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", [Agent(1, 30.0, 0.0), Agent(2, 30.0, 30.0)])
    lines = read_lines(source)
    position = lines[0].split(",").index(column)
    fields = lines[40].split(",")
    fields[position] = value
    write_lines(source, lines[:40] + [",".join(fields)] + lines[41:])
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="interaction")
    assert cleaned.reasons() == {reason: 1}
    [row] = cleaned.quarantine.itertuples()
    assert row.source_line == 41 and row.detail.startswith(detail)
    assert len(cleaned.tracks) == 299


def test_duplicated_track_and_frame_rows_are_repaired_or_quarantined(tmp_path):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", [Agent(1, 30.0, 0.0), Agent(2, 30.0, 30.0)])
    lines = read_lines(source)
    conflicting = lines[60].replace(",car,", ",truck,")
    write_lines(source, lines + [lines[10], conflicting])
    cleaned = ingest_and_clean(source, tmp_path / "data", source_format="interaction")
    assert cleaned.reasons() == {"duplicate_exact": 1, "duplicate_conflict": 2}
    assert cleaned.report["rows"]["repaired"] == 1 and len(cleaned.tracks) == 299


def test_missing_column_is_an_error_naming_file_and_column(tmp_path):
    source = write_tracks(tmp_path / "vehicle_tracks_000.csv", [Agent(1, 30.0, 0.0)])
    lines = [line.split(",") for line in read_lines(source)]
    drop = lines[0].index("vx")
    write_lines(source, [",".join(fields[:drop] + fields[drop + 1:]) for fields in lines])
    with pytest.raises(FileFormatError, match=r"vehicle_tracks_000\.csv: missing required column 'vx'"):
        ingest.ingest(tmp_path / "data", "interaction", "inter", str(source), 1)


def test_recordings_are_named_after_their_files_and_location_folders(tmp_path):
    for location in ("DR_CHN_Merging_ZS", "DR_DEU_Merging_MT"):
        write_tracks(tmp_path / location / "vehicle_tracks_007.csv", [Agent(1, 30.0, 0.0)])
    shards = ingest.discover("interaction", "inter", str(tmp_path))
    assert [shard.recording_id for shard in shards] == ["inter_DR_CHN_Merging_ZS_007", "inter_DR_DEU_Merging_MT_007"]
    assert [shard.recording_id for shard in ingest.discover("interaction", "x", str(tmp_path / "DR_CHN_Merging_ZS"))] \
        == ["x_007"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileFormatError, match="empty: no INTERACTION track files"):
        ingest.discover("interaction", "x", str(tmp_path / "empty"))
    with pytest.raises(FileFormatError, match="nowhere: no such INTERACTION track file or folder"):
        ingest.discover("interaction", "x", str(tmp_path / "nowhere"))


def test_an_unknown_format_is_refused_in_one_line_listing_the_registry():
    with pytest.raises(DrivelabError) as refused:
        sources.reader("csv")
    assert str(refused.value) == "source.format='csv' is not supported; choose one of: highd, ngsim, interaction"
    assert list(sources.SOURCES) == ["highd", "ngsim", "interaction"]


@pytest.mark.slow
def test_prepare_command_reads_an_interaction_folder(tmp_path):
    for number, heading_deg in enumerate([30.0, 200.0, 95.0]):
        write_tracks(tmp_path / "src" / f"vehicle_tracks_{number:03d}.csv", road(heading_deg))
    done = drivelab("prepare", "source=interaction", f"source.path={tmp_path / 'src'}",
                    f"paths.data_dir={tmp_path / 'out'}")
    assert "not_motor_vehicle: 150 rows (3 tracks)" in done.stdout
    assert "lane-change windows: unknown (the source has no lanes)" in done.stdout
    refused = drivelab("ingest", "source.format=csv", f"paths.data_dir={tmp_path / 'out'}", check=False)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        "drivelab ingest: error: source.format='csv' is not supported; choose one of: highd, ngsim, interaction")
