"""The whole loop through the real CLI: simulate -> prepare -> train -> eval, with lineage and reproducibility."""

import json

import numpy as np
import pytest

from conftest import drivelab, read_json, train
from drivelab.data.windows import store
from drivelab.lineage import dvc_dir_md5

pytestmark = pytest.mark.slow

METRIC_NAMES = ["test/rmse_1s", "test/rmse_2s", "test/rmse_3s", "test/rmse_4s", "test/rmse_5s", "test/ade",
                "test/fde", "test/miss_rate"]


def test_prepare_writes_memory_mapped_windows_split_by_recording(sim_data_dir):
    info = store.read_info(sim_data_dir / "windows")
    recordings = [set(info["splits"][split]["recordings"]) for split in store.SPLITS]
    assert all(recordings) and not (recordings[0] & recordings[1] or recordings[0] & recordings[2] or recordings[1] & recordings[2])
    train = store.open_split(sim_data_dir / "windows", "train")
    assert isinstance(train["history"], np.memmap)
    assert train["history"].shape[1:] == (16, 4) and train["future"].shape[1:] == (25, 2)
    assert train["neighbours"].shape[1:] == (12, 16, 4) and train["neighbour_mask"].shape[1:] == (12, 16)
    assert 0.03 < info["summary"]["lane_change_fraction"] < 0.2  # heterogeneous traffic, not uniform


def test_run_directory_holds_config_manifest_metrics_and_checkpoints(trained_run, sim_data_dir):
    manifest = read_json(trained_run / "manifest.json")
    for key in ("git_commit", "git_dirty", "data_version", "seed", "command", "packages", "started_at",
                "finished_at", "status", "best_checkpoint"):
        assert key in manifest, key
    assert manifest["status"] == "completed"
    assert manifest["data_version"] == dvc_dir_md5(sim_data_dir / "windows")
    assert manifest["packages"]["torch"].startswith("2.13.0")
    assert (trained_run / manifest["best_checkpoint"]).is_file()
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()
    assert (trained_run / "config.yaml").is_file()
    assert list(read_json(trained_run / "metrics.json")) == METRIC_NAMES


def test_wandb_runs_offline_inside_the_run_directory(trained_run):
    offline_runs = list((trained_run / "logs" / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list((trained_run / "logs" / "csv").rglob("metrics.csv"))


def test_learned_model_beats_constant_velocity(trained_run):
    done = drivelab("eval", f"run_dir={trained_run}", "baseline=cv")
    results = read_json(trained_run / "eval_metrics.json")
    ratio = results["metrics"]["test/rmse_5s"] / results["baseline"]["metrics"]["test/rmse_5s"]
    assert ratio <= 0.95, done.stdout
    assert "| cv |" in done.stdout


def test_eval_reproduces_the_runs_test_metrics(trained_run):
    drivelab("eval", f"run_dir={trained_run}", "baseline=null")
    trained = read_json(trained_run / "metrics.json")
    evaluated = read_json(trained_run / "eval_metrics.json")["metrics"]
    assert evaluated.keys() == trained.keys()
    for name in trained:
        assert evaluated[name] == pytest.approx(trained[name], abs=1e-6), name


def test_eval_uses_the_runs_saved_config_not_todays_defaults(trained_run, tmp_path):
    # Today's default model is different from the one in the run; eval must still rebuild the run's model.
    config = (trained_run / "config.yaml").read_text()
    assert "ResidualMLP" in config
    drivelab("eval", f"run_dir={trained_run}", "baseline=null", f"output_dir={tmp_path}")
    assert json.loads((tmp_path / "eval_metrics.json").read_text())["metrics"]


def test_same_config_data_and_seed_give_identical_metrics(sim_data_dir, tmp_path):
    runs = [tmp_path / "first", tmp_path / "second"]
    for run_dir in runs:
        train(sim_data_dir, run_dir, "logger=csv", "trainer.max_epochs=1", "trainer.limit_train_batches=10")
    assert read_json(runs[0] / "metrics.json") == read_json(runs[1] / "metrics.json")


def test_runs_started_together_get_distinct_directories(sim_data_dir, tmp_path):
    import subprocess

    from conftest import BIN_DIR, cli_env

    command = [str(BIN_DIR / "drivelab"), "train", "model=cv", "logger=none", f"paths.data_dir={sim_data_dir}",
               f"paths.runs_dir={tmp_path}"]
    processes = [subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    run_dirs = [path.parent for path in tmp_path.rglob("manifest.json")]
    assert len(set(run_dirs)) == 2


def test_constant_velocity_needs_no_training_and_matches_the_data_summary(sim_data_dir, tmp_path):
    drivelab("train", "model=cv", "logger=none", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={tmp_path}")
    metrics = read_json(tmp_path / "metrics.json")
    summary = store.read_info(sim_data_dir / "windows")["summary"]
    assert metrics["test/rmse_5s"] == pytest.approx(summary["cv_test_rmse_5s"], abs=1e-3)
    assert read_json(tmp_path / "manifest.json")["best_checkpoint"] is None


def test_prepare_rejects_a_folder_without_recordings(tmp_path):
    (tmp_path / "raw").mkdir()
    done = drivelab("prepare", f"paths.data_dir={tmp_path}", check=False)
    assert done.returncode != 0
    assert "no highD recordings" in done.stderr + done.stdout


def test_ddp_children_share_the_parents_run_directory(sim_data_dir, tmp_path):
    """Lightning re-runs the command line for rank 1; it must land in the same run directory."""
    drivelab("train", "trainer=ddp", "trainer.devices=2", "debug=fast", f"paths.data_dir={sim_data_dir}",
             f"paths.runs_dir={tmp_path}")
    [run_dir] = [path.parent for path in tmp_path.rglob("manifest.json")]
    assert (run_dir / "train_ddp_process_1.log").is_file()
    assert read_json(run_dir / "manifest.json")["status"] == "completed"
    assert len(list(tmp_path.glob("*/*"))) == 1  # no second run directory for rank 1
