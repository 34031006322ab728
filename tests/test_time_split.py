"""`windows.split.by=time`: one recording cut into train, val and test blocks a window length apart."""

import numpy as np
import pytest

from drivelab.data.tracks import canonical, highd
from drivelab.data.windows import store
from drivelab.data.windows.build import build
from drivelab.data.windows.split import split_by_time, time_blocks
from drivelab.errors import DrivelabError
from highd_traffic import FRAME_RATE_HZ, write_steady_traffic
from window_specs import default_spec

SPEC = default_spec(max_neighbours=4)
WINDOW_S = SPEC.history_s + SPEC.future_s
TIME_SPLIT = {"by": "time", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}


def one_recording_tracks(tmp_path, duration_s=120.0):
    write_steady_traffic(tmp_path / "raw", duration_s=duration_s)
    [recording] = highd.find_recordings(tmp_path / "raw")
    canonical.write(canonical.conform(highd.read_recording(recording, "highd_01").tracks),
                    tmp_path / "tracks" / "highd_01.parquet")
    return tmp_path / "tracks"


def spans_s(windows_dir, split):
    present_s = store.open_split(windows_dir, split)["frame"] / FRAME_RATE_HZ
    return present_s - SPEC.history_s, present_s + SPEC.future_s


def test_time_split_of_one_recording_leaves_a_window_length_between_splits(tmp_path):
    info = build(one_recording_tracks(tmp_path), tmp_path / "windows", SPEC, TIME_SPLIT, 1 << 27)
    assert info["split"]["by"] == "time" and info["split"]["guard_s"] == WINDOW_S
    assert all(info["splits"][split]["windows"] > 0 for split in store.SPLITS)
    assert all(info["splits"][split]["recordings"] == ["highd_01"] for split in store.SPLITS)
    (train_start, train_end), (val_start, val_end), (test_start, test_end) = (
        spans_s(tmp_path / "windows", split) for split in ("train", "val", "test"))
    # Chronological blocks, and no window's history or future comes within one window length of another split's.
    assert val_start.min() - train_end.max() >= WINDOW_S - 1e-6
    assert test_start.min() - val_end.max() >= WINDOW_S - 1e-6
    kept = sum(info["splits"][split]["windows"] for split in store.SPLITS)
    assert kept + info["split"]["windows_in_guard_gaps"] == info["flow"]["windows"]


def test_recording_split_stays_the_default_and_is_recorded(tmp_path):
    from track_tables import write_platoons

    info = build(write_platoons(tmp_path, 3), tmp_path / "windows", SPEC,
                 {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}, 1 << 27)
    assert info["split"] == {"by": "recording", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}
    assert sorted(sum((info["splits"][split]["recordings"] for split in store.SPLITS), [])) == info["recordings"]


def test_one_recording_split_by_recording_is_refused_pointing_at_time(tmp_path):
    with pytest.raises(DrivelabError, match="windows.split.by=time"):
        build(one_recording_tracks(tmp_path), tmp_path / "windows", SPEC, {**TIME_SPLIT, "by": "recording"}, 1 << 27)


def test_recording_too_short_for_a_time_split_is_refused_naming_it(tmp_path):
    with pytest.raises(DrivelabError, match="recording highd_01: .*too short"):
        build(one_recording_tracks(tmp_path, duration_s=24.0), tmp_path / "windows", SPEC, TIME_SPLIT, 1 << 27)


def test_blocks_share_the_time_left_after_two_guard_gaps():
    blocks = time_blocks(0.0, 116.0, 0.25, 0.25, guard_s=8.0)
    assert blocks == {"train": (0.0, 50.0), "val": (58.0, 83.0), "test": (91.0, 116.0)}


def test_a_window_crossing_a_block_edge_belongs_to_no_split():
    present_s = np.arange(3.0, 113.0, 1.0)  # spans 0..8 up to 109..117
    chosen, blocks = split_by_time(present_s, 3.0, 5.0, 0.25, 0.25)
    for split, index in chosen.items():
        low, high = blocks[split]
        assert ((present_s[index] - 3.0 >= low) & (present_s[index] + 5.0 <= high)).all()
    inside = np.concatenate(list(chosen.values()))
    assert len(np.unique(inside)) == len(inside) < len(present_s)


def tracks_of_recordings(tmp_path, durations_s):
    for number, duration_s in enumerate(durations_s, start=1):
        raw = tmp_path / "raw" / f"{number:02d}"
        write_steady_traffic(raw, duration_s=duration_s)
        [recording] = highd.find_recordings(raw)
        canonical.write(canonical.conform(highd.read_recording(recording, f"highd_{number:02d}").tracks),
                        tmp_path / "tracks" / f"highd_{number:02d}.parquet")
    return tmp_path / "tracks"


def test_a_time_split_in_worker_processes_writes_the_same_bytes_as_one_process(tmp_path):
    from drivelab.lineage import dvc_dir_md5

    tracks = tracks_of_recordings(tmp_path, [90.0, 120.0, 100.0])
    one = build(tracks, tmp_path / "one", SPEC, TIME_SPLIT, 1 << 27, workers=1)
    two = build(tracks, tmp_path / "two", SPEC, TIME_SPLIT, 1 << 27, workers=2, min_pool_bytes=0)
    assert one == two and one["split"]["windows_in_guard_gaps"] > 0 and len(one["split"]["time_blocks"]) == 3
    assert dvc_dir_md5(tmp_path / "two") == dvc_dir_md5(tmp_path / "one")


def test_a_recording_too_short_in_a_worker_process_is_refused_naming_it_and_nothing_is_left(tmp_path):
    tracks = tracks_of_recordings(tmp_path, [120.0, 24.0, 120.0])
    with pytest.raises(DrivelabError, match="recording highd_02: .*too short"):
        build(tracks, tmp_path / "windows", SPEC, TIME_SPLIT, 1 << 27, workers=2, min_pool_bytes=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw", "tracks"]
