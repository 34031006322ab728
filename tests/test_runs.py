"""The run seam (`drivelab.runs`): one way to build, train and open a run, for every command and helper."""

import pytest
import yaml

from conftest import drivelab, read_json, train
from drivelab import runs
from drivelab.data.windows import store
from drivelab.errors import ConfigError


def test_an_opened_run_holds_its_config_manifest_metrics_and_best_checkpoint(trained_run):
    run = runs.open_run(trained_run)
    assert run.status == "completed" and run.label == "ResidualMLP"
    assert run.metrics == read_json(trained_run / "metrics.json")
    assert run.best_checkpoint.is_file()
    assert run.config.model._target_ == "drivelab.models.mlp.ResidualMLP"


def test_an_opened_run_rebuilds_its_model_and_reproduces_its_test_metrics(trained_run):
    run = runs.open_run(trained_run)
    metrics, model, _ = run.test()
    for name, value in run.metrics.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name
    assert type(run.model()).__name__ == "ResidualMLP"


def test_the_recorded_config_shows_the_window_settings_of_the_data_trained_on(trained_run, sim_data_dir):
    saved = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert saved["windows"] == store.read_info(sim_data_dir / "windows")["spec"]
    assert "simulate" not in saved and "source" not in saved  # other commands' settings are not the run's


def test_a_run_config_that_names_an_unregistered_target_is_refused_before_anything_is_built(trained_run, tmp_path):
    copy = tmp_path / "run"
    copy.mkdir()
    saved = yaml.safe_load((trained_run / "config.yaml").read_text())
    saved["model"]["_target_"] = "drivelab.atomic.shutil.copyfile"
    (copy / "config.yaml").write_text(yaml.safe_dump(saved))
    (copy / "manifest.json").write_text((trained_run / "manifest.json").read_text())
    with pytest.raises(ConfigError, match="model._target_"):
        runs.open_run(copy).config


def test_training_without_validation_keeps_the_last_checkpoint(sim_data_dir, tmp_path):
    run_dir = tmp_path / "novalidation"
    train(sim_data_dir, run_dir, "trainer.limit_val_batches=0", "trainer.max_epochs=1", "logger=csv")
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "completed"
    assert (run_dir / manifest["best_checkpoint"]).is_file()
    assert read_json(run_dir / "metrics.json")["test/rmse_5s"] > 0


def test_every_run_gets_its_own_tracking_id_even_in_a_reused_directory_name(sim_data_dir, tmp_path):
    drivelab("train", "-m", "model=cv,ca", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={tmp_path}",
             "logger=default", "trainer.enable_progress_bar=false")
    manifests = [read_json(path) for path in sorted(tmp_path.rglob("manifest.json"))]
    ids = [manifest["tracking_id"] for manifest in manifests]
    assert len(ids) == 2 and len(set(ids)) == 2
    for manifest in manifests:  # the W&B offline run is named by that id
        logs = list((tmp_path.glob(f"**/logs/wandb/offline-run-*-{manifest['tracking_id']}")))
        assert len(logs) == 1
