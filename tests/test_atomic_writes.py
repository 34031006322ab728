"""Artifacts written atomically: a checkpoint write killed half-way leaves the previous checkpoint loadable, a failed
simulation leaves the previous recordings, and `simulate` never replaces files it did not write."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from drivelab.checkpoints import read_checkpoint
from drivelab.errors import DrivelabError
from drivelab.sim import recordings
from drivelab.sim.recordings import write_recordings

EPISODE = {"duration_s": 8.0, "sample_hz": 10, "lanes": 2, "vehicles": 8, "speed_range_mps": [20.0, 30.0],
           "randomize_behavior": False, "truck_fraction": 0.0, "road_length_m": 1500.0}

WRITER = """
import sys, torch
from drivelab.runs.checkpoint_io import AtomicCheckpointIO
io = AtomicCheckpointIO()
io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, sys.argv[1])
print("first", flush=True)
io.save_checkpoint({"state_dict": {"w": torch.zeros(40_000_000)}, "global_step": 2}, sys.argv[1])
"""


def test_a_checkpoint_write_killed_half_way_keeps_the_previous_checkpoint_loadable(tmp_path):
    target = tmp_path / "last.ckpt"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert writer.stdout.readline().strip() == "first"
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".last.ckpt.*.tmp")):  # the second, large checkpoint is being written
        assert writer.poll() is None and time.monotonic() < deadline, "the second write never started"
        time.sleep(0.01)
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()
    state = read_checkpoint(target)
    assert state["global_step"] == 1 and torch.equal(state["state_dict"]["w"], torch.ones(3))


def simulate(raw_dir, episodes=2):
    return write_recordings(raw_dir, episodes, 3, 1, **EPISODE)


def test_simulate_refuses_a_folder_holding_recordings_it_did_not_write(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    (raw_dir / "01_tracks.csv").write_text("real highD data\n")
    with pytest.raises(DrivelabError, match="01_tracks.csv was not written by drivelab simulate"):
        simulate(raw_dir)
    assert [path.name for path in raw_dir.iterdir()] == ["01_tracks.csv"]
    assert (raw_dir / "01_tracks.csv").read_text() == "real highD data\n"


def test_an_interrupted_simulation_leaves_the_previous_recordings_whole(tmp_path, monkeypatch):
    raw_dir = tmp_path / "raw"
    simulate(raw_dir, episodes=2)
    (raw_dir / "notes.txt").write_text("mine")
    before = {path.name: path.read_bytes() for path in raw_dir.iterdir()}
    real = recordings.simulate_recording

    def dies_on_the_second(recording_id, *args):
        if recording_id == 2:
            raise KeyboardInterrupt
        return real(recording_id, *args)

    monkeypatch.setattr(recordings, "simulate_recording", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        simulate(raw_dir, episodes=3)
    assert {path.name: path.read_bytes() for path in raw_dir.iterdir()} == before
    assert not [path for path in tmp_path.iterdir() if path.name != "raw"]  # no staging folder left behind
    assert json.loads((raw_dir / recordings.WRITTEN_FILE).read_text())["files"] == sorted(
        name for name in before if name.endswith(".csv"))
