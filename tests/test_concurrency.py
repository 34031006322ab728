"""Many commands at once: training runs started in the same second never collide, and data commands on one data
folder take turns (the second waits, or stops with one line when told not to wait)."""

import json
import shutil
import subprocess

import pytest

from conftest import BIN_DIR, PROJECT_ROOT, cli_env, drivelab, read_json
from drivelab.data.lock import data_dir_lock
from drivelab.data.windows import store

pytestmark = pytest.mark.slow


def start(*args):
    return subprocess.Popen([str(BIN_DIR / "drivelab"), *args], cwd=PROJECT_ROOT, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_eight_training_runs_started_together_get_their_own_directories_and_wandb_runs(sim_data_dir, tmp_path):
    processes = [start("train", "model=cv", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={tmp_path}",
                       "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false")
                 for _ in range(8)]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    manifests = [read_json(path) for path in tmp_path.rglob("manifest.json")]
    assert len({manifest["run_dir"] for manifest in manifests}) == 8
    assert all(manifest["status"] == "completed" for manifest in manifests)
    ids = {manifest["tracking_id"] for manifest in manifests}
    assert len(ids) == 8
    offline_runs = list(tmp_path.rglob("offline-run-*"))
    assert len(offline_runs) == 8 and {path.name.rsplit("-", 1)[-1] for path in offline_runs} == ids


@pytest.fixture
def raw_copy(sim_data_dir, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(sim_data_dir / "raw", data_dir / "raw")
    return data_dir


def test_a_data_command_that_may_not_wait_names_the_holder_in_one_line(raw_copy):
    with data_dir_lock(raw_copy, "windows"):
        done = drivelab("prepare", f"paths.data_dir={raw_copy}", "lock_timeout_s=0", check=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("drivelab prepare: error: ")
    assert f"{raw_copy} is locked by drivelab windows (pid " in done.stderr
    assert not (raw_copy / "tracks").exists()  # nothing written


def test_two_prepares_on_one_folder_take_turns_and_leave_one_consistent_version(raw_copy):
    with data_dir_lock(raw_copy, "windows"):  # both start while the folder is busy: both must wait
        first, second = (start("prepare", f"paths.data_dir={raw_copy}") for _ in range(2))
        for process in (first, second):
            lines = iter(process.stderr.readline, "")
            assert any("waiting for" in line for line in lines), "a second writer must wait for the lock"
    for process in (first, second):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    info = store.read_info(raw_copy / "windows")  # windows.json describes the shards beside it
    for split in store.SPLITS:
        assert len(store.open_split(raw_copy / "windows", split)) == info["splits"][split]["windows"]
    report = json.loads((raw_copy / "clean_report.json").read_text())
    cleaned = {path.stem for path in (raw_copy / "tracks").glob("*.parquet")}
    assert cleaned == set(info["windows_per_recording"]) and report["rows"]["kept"] > 0
    assert not [path.name for path in raw_copy.iterdir() if path.name.endswith((".staging", ".previous"))]
