"""Runs that stop early: kill -9 then `resume=auto` ends exactly as an uninterrupted run; Ctrl-C and SIGTERM end a
run as `interrupted` with the shell's exit code and the command that resumes it; a corrupt checkpoint is passed over.
Kills go to the whole process group, and only once a checkpoint is on disk (no fixed sleeps)."""

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, PROJECT_ROOT, cli_env, drivelab, read_json
from drivelab import runs
from drivelab.checkpoints import CheckpointError, read_checkpoint
from drivelab.runs.resume import newest_good_checkpoint

pytestmark = pytest.mark.slow

# 3 epochs of 10 batches, a step checkpoint every 4 steps: step 12 lies inside the second epoch.
RESUME_OVERRIDES = ["model=mlp", "trainer.max_epochs=3", "trainer.limit_train_batches=10", "data.batch_size=128",
                    "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
                    "callbacks.step_checkpoint.every_n_train_steps=4"]


def train_args(data_dir, runs_dir, *extra):
    return ["train", f"paths.data_dir={data_dir}", f"paths.runs_dir={runs_dir}", *RESUME_OVERRIDES, *extra]


def start_training(args):
    """`drivelab train` in its own process group, as a terminal or a scheduler starts it."""
    return subprocess.Popen([str(BIN_DIR / "drivelab"), *args], cwd=PROJECT_ROOT, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def wait_for(path, process, timeout_s=300):
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        assert process.poll() is None, f"training ended before {path.name} was written:\n{process.communicate()[1]}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def logged_cells(run_dir):
    """Every (step, metric) value the CSV logs hold, counted."""
    cells = []
    for path in sorted(Path(run_dir).glob("logs/csv/version_*/metrics.csv")):
        for row in csv.DictReader(path.open()):
            cells += [(int(row["step"]), name) for name, value in row.items() if name not in ("step", "epoch") and value]
    return cells


@pytest.fixture(scope="module")
def uninterrupted(sim_data_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    drivelab(*train_args(sim_data_dir, run_dir.parent, f"hydra.run.dir={run_dir}"))
    return run_dir


def test_resume_after_kill_matches_uninterrupted(sim_data_dir, uninterrupted, tmp_path):
    run_dir = tmp_path / "killed"
    process = start_training(train_args(sim_data_dir, tmp_path, f"hydra.run.dir={run_dir}"))
    wait_for(run_dir / "checkpoints" / "step0000012.ckpt", process)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert runs.open_run(run_dir).status == "killed"

    resumed = drivelab(*train_args(sim_data_dir, tmp_path, "resume=auto"))  # finds the run: same config, unfinished
    assert f"run directory: {run_dir}" in resumed.stdout
    expected, got = read_json(uninterrupted / "metrics.json"), read_json(run_dir / "metrics.json")
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "completed" and (run_dir / manifest["best_checkpoint"]).is_file()
    (resume,) = manifest["resumes"]
    assert resume["from_status"] == "killed" and resume["global_step"] >= 12
    # One W&B run continued (two offline folders with the run's id sync into one), CSV steps logged once each.
    offline = sorted((run_dir / "logs" / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and {path.name.rsplit("-", 1)[-1] for path in offline} == {manifest["tracking_id"]}
    cells = logged_cells(run_dir)
    assert len(cells) == len(set(cells)) and set(cells) == set(logged_cells(uninterrupted))


@pytest.mark.parametrize("signum,exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_run_as_interrupted_with_its_exit_code(signum, exit_code, sim_data_dir, uninterrupted,
                                                                 tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(train_args(sim_data_dir, tmp_path, f"hydra.run.dir={run_dir}", "logger=csv"))
    wait_for(run_dir / "checkpoints" / "step0000004.ckpt", process)
    os.killpg(process.pid, signum)  # Ctrl-C reaches the whole foreground process group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == exit_code, stderr
    resume_command = f"drivelab train resume=auto run_dir={run_dir}"
    assert f"interrupted ({signal.Signals(signum).name}); run directory: {run_dir}" in stderr
    assert f"resume it with: {resume_command}" in stderr and "Traceback" not in stderr
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "interrupted" and manifest["error"] is None
    assert manifest["resume_command"] == resume_command
    assert (run_dir / manifest["best_checkpoint"]).is_file()
    if signum == signal.SIGINT:  # the printed command continues it to the uninterrupted run's result
        drivelab("train", "resume=auto", f"run_dir={run_dir}")
        expected = read_json(uninterrupted / "metrics.json")
        got = read_json(run_dir / "metrics.json")
        assert got == pytest.approx(expected, abs=1e-6)
        assert read_json(run_dir / "manifest.json")["resumes"][0]["from_status"] == "interrupted"


def test_a_truncated_checkpoint_is_named_and_resume_falls_back_to_the_previous_one(uninterrupted, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted / "checkpoints", run_dir / "checkpoints")
    newest = newest_good_checkpoint(run_dir)
    steps = {path: read_checkpoint(path)["global_step"] for path in (run_dir / "checkpoints").glob("*.ckpt")}
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"checkpoint {newest} cannot be read"):
        read_checkpoint(newest)
    fallback = newest_good_checkpoint(run_dir)
    assert fallback != newest and steps[fallback] == max(step for path, step in steps.items() if path != newest)
    assert f"skipping checkpoint {newest} cannot be read" in capsys.readouterr().err


def test_resume_refuses_a_completed_run_in_one_line(uninterrupted):
    done = drivelab("train", "resume=auto", f"run_dir={uninterrupted}", check=False)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "has already completed; nothing to resume" in done.stderr


def test_the_training_order_depends_on_seed_and_epoch_and_a_resumed_epoch_starts_where_it_stopped():
    from drivelab.data.windows.sampling import ShuffledOrder, WindowBatches

    def windows(batches):
        return [int(index) for batch in batches for index in batch]

    def order(epoch, seed=7, resume_at=None):
        batches = WindowBatches(ShuffledOrder(range(50), seed=seed), 8)
        batches.sampler.set_epoch(epoch)
        if resume_at is not None:
            batches.resume_at(epoch, resume_at)
        return windows(batches)

    assert order(1) == order(1) and sorted(order(1)) == list(range(50))
    assert order(1) != order(2) and order(1) != order(1, seed=8)
    assert order(2, resume_at=3) == order(2)[3 * 8:]
    resumed = WindowBatches(ShuffledOrder(range(50), seed=7), 8)
    resumed.resume_at(2, 3)
    assert windows(resumed)[:2] == order(2)[24:26] and windows(resumed) == order(2)  # only the first pass starts late
