"""drivelab.notebook: what notebooks call, on the session's simulated data and real runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PROJECT_ROOT, read_json
from drivelab import notebook as nb
from drivelab.config.validate import ConfigError
from drivelab.data.windows.extract import constant_velocity
from drivelab.errors import DrivelabError, MissingInputError


def test_importing_the_module_does_not_import_torch():
    code = "import sys, drivelab.notebook; print('torch' in sys.modules, 'pytorch_lightning' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_compose_roots_paths_at_the_project_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRIVELAB_ROOT", raising=False)
    cfg = nb.compose("train")
    assert Path(cfg.paths.root_dir) == PROJECT_ROOT
    assert Path(cfg.paths.data_dir) == PROJECT_ROOT / "data"
    assert Path(cfg.data.windows_dir) == PROJECT_ROOT / "data" / "windows"


def test_compose_leaves_the_root_to_drivelab_root_when_it_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIVELAB_ROOT", str(tmp_path))
    assert Path(nb.compose("train").paths.runs_dir) == tmp_path / "runs"


def test_compose_applies_overrides_and_directories_with_awkward_names(tmp_path):
    odd = tmp_path / "my data, v2 'final'"
    cfg = nb.compose("train", ["model=gru", "seed=7"], data_dir=odd, runs_dir=tmp_path / "runs")
    assert cfg.model._target_.endswith("GRUEncoderDecoder")
    assert cfg.seed == 7
    assert Path(cfg.data.windows_dir) == odd / "windows"
    assert Path(cfg.paths.runs_dir) == tmp_path / "runs"


def test_compose_rejects_a_misspelt_key_like_the_cli():
    with pytest.raises(ConfigError, match="trainer.max_epoch"):
        nb.compose("train", ["trainer.max_epoch=3"])


def test_load_data_accepts_a_config_a_data_folder_or_its_windows_folder(sim_data_dir):
    from_cfg = nb.load_data(nb.compose("train", data_dir=sim_data_dir))
    from_windows = nb.load_data(sim_data_dir / "windows")
    assert from_cfg.windows_dir == from_windows.windows_dir == (sim_data_dir / "windows").resolve()
    assert from_cfg.data_dir == sim_data_dir.resolve()
    assert from_cfg.version.endswith(".dir")


def test_load_data_says_what_to_run_when_there_are_no_windows(tmp_path):
    with pytest.raises(MissingInputError, match="drivelab prepare"):
        nb.load_data(tmp_path)


def test_window_table_has_one_row_per_window_with_its_facts(sim_data_dir):
    data = nb.load_data(sim_data_dir)
    table = data.table()
    splits = data.info["splits"]
    assert len(table) == sum(split["windows"] for split in splits.values())
    test = data.windows("test")
    rows = table[table["split"] == "test"]
    assert rows["index"].tolist() == list(range(len(test)))
    assert np.array_equal(rows["lane_change"].to_numpy(), np.asarray(test["lane_change"], bool))
    cv = constant_velocity(np.asarray(test["history"]), test["future"].shape[1], data.sample_hz)
    expected_fde = np.linalg.norm(cv[:, -1] - test["future"][:, -1], axis=-1)
    assert np.allclose(rows["cv_fde_m"], expected_fde)
    assert set(rows["recording"]) == set(splits["test"]["recordings"])
    assert rows["dense"].dtype == bool and rows["braking"].dtype == bool


def test_sample_gathers_windows_in_the_order_asked(sim_data_dir):
    data = nb.load_data(sim_data_dir)
    sample = data.sample("test", [5, 0, 3])
    future = data.windows("test")["future"]
    assert np.array_equal(sample["future"], future[[5, 0, 3]])


def test_health_report_describes_the_windows_of_the_version(sim_data_dir):
    data = nb.load_data(sim_data_dir)
    health = data.health()
    assert health["data_version"] == data.version
    assert health["counts"]["test"]["windows"] == data.info["splits"]["test"]["windows"]
    assert 0 < health["features"]["speed_mps"]["mean"] < 50


def test_find_runs_finds_single_runs_and_sweep_jobs_at_any_depth(runs_with_sweep):
    runs = nb.find_runs(runs_with_sweep)
    relative = [path.relative_to(runs_with_sweep).parts for path in runs]
    assert ("mlp",) in relative
    sweep_jobs = [parts for parts in relative if parts[0] == "multirun"]
    assert len(sweep_jobs) == 2 and all(len(parts) >= 3 for parts in sweep_jobs)
    assert nb.find_runs(runs_with_sweep / "missing") == []


def test_runs_table_holds_every_run_its_sweep_varying_config_and_metrics(runs_with_sweep):
    table = nb.runs_table(runs_with_sweep)
    assert len(table) == 3
    assert table.loc["mlp", "sweep"] == ""
    swept = table[table["sweep"] != ""]
    assert len(swept) == 2 and swept["sweep"].nunique() == 1
    assert set(table["model"]) == {"ResidualMLP", "ConstantVelocity", "ConstantAcceleration"}
    assert table["config.model._target_"].nunique() == 3
    assert not any(column.startswith("config.paths.") for column in table.columns)
    assert table.loc["mlp", "test/rmse_5s"] == read_json(runs_with_sweep / "mlp" / "metrics.json")["test/rmse_5s"]
    assert "model=cv" in " ".join(swept["overrides"])


def test_epoch_table_has_one_row_per_trained_epoch(trained_run):
    run = nb.load_run(trained_run)
    epochs = run.epochs()
    assert epochs["epoch"].tolist() == list(range(run.manifest["epochs"]))
    assert epochs["val/rmse_5s"].notna().all() and epochs["train/loss_epoch"].notna().all()
    assert not any(column.startswith("test/") for column in epochs.columns)
    assert epochs.filter(like="lr-").notna().all().all()  # the learning rate, logged before its epoch


def test_learning_curves_gather_every_run_in_one_long_table(runs_with_sweep):
    curves = nb.learning_curves(runs_with_sweep)
    assert list(curves.columns) == ["run", "epoch", "metric", "value"]
    val = curves[curves["metric"] == "val/rmse_5s"]
    assert set(val["run"]) == {"mlp"}  # physics baselines train no epochs
    assert len(val) == read_json(runs_with_sweep / "mlp" / "manifest.json")["epochs"]


def test_newest_run_prefers_the_latest_trained_run_then_the_fallback(runs_with_sweep, trained_run, tmp_path):
    assert nb.newest_run(runs_with_sweep).path == (runs_with_sweep / "mlp").resolve()  # the sweep is newer, untrained
    sweep = next(path for path in nb.find_runs(runs_with_sweep) if "multirun" in path.parts).parent
    started = {path: read_json(path / "manifest.json")["started_at"] for path in nb.find_runs(sweep)}
    assert nb.newest_run(sweep).manifest["started_at"] == max(started.values())
    assert nb.newest_run(tmp_path / "empty", fallback=trained_run).path == trained_run.resolve()
    with pytest.raises(MissingInputError, match="no completed run"):
        nb.newest_run(tmp_path / "empty")


def test_loaded_model_reproduces_the_runs_recorded_test_metrics(trained_run, sim_data_dir):
    from drivelab.metrics import trajectory_errors

    run = nb.load_run(trained_run)
    data = nb.load_data(sim_data_dir)
    test = data.windows("test")
    pred = nb.predict(nb.load_model(run), test, batch_size=97)  # a batch size that does not divide the split
    errors = trajectory_errors(pred, np.array(test["future"]), data.sample_hz)
    for name, value in errors.items():
        assert errors[name] == pytest.approx(run.metrics[f"test/{name}"], rel=1e-5), name


def test_a_physics_run_loads_without_a_checkpoint_and_predicts_constant_velocity(runs_with_sweep, sim_data_dir):
    cv_run = next(run for run in map(nb.load_run, nb.find_runs(runs_with_sweep)) if run.label == "ConstantVelocity")
    assert cv_run.best_checkpoint is None
    test = nb.load_data(sim_data_dir).sample("test", np.arange(50))
    pred = nb.predict(nb.load_model(cv_run), test)
    expected = constant_velocity(test["history"], test["future"].shape[1], 5)
    assert np.allclose(pred, expected, atol=1e-5)


def test_evaluate_reports_slices_beside_the_baseline(trained_run, sim_data_dir):
    run = nb.load_run(trained_run)
    model = nb.load_model(run)
    test = nb.load_data(sim_data_dir).windows("test")
    table = nb.slice_table(nb.evaluate(model, test, nb.baseline_model("cv", like=model)))
    overall = table[table["slice"] == "all"].set_index("model")
    assert set(overall.index) == {"ResidualMLP", "ConstantVelocity"}
    assert (overall["windows"] == len(test)).all()
    assert overall.loc["ResidualMLP", "rmse_5s"] == pytest.approx(run.metrics["test/rmse_5s"], rel=1e-5)
    lane = table[table["slice"].isin(["lane_change", "lane_keep"])].groupby("slice")["windows"].first()
    assert lane.sum() == len(test)


def test_window_errors_and_worst_windows_agree_with_the_displacements():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(20, 25, 2))
    pred = true + rng.normal(scale=0.5, size=true.shape)
    errors = nb.window_errors(pred, true, sample_hz=5)
    final = np.linalg.norm(pred[:, -1] - true[:, -1], axis=-1)
    assert np.allclose(errors["fde_m"], final)
    assert np.allclose(errors["error_1s_m"], np.linalg.norm(pred[:, 4] - true[:, 4], axis=-1))
    worst = nb.worst_windows(errors, 3)
    assert worst == list(np.argsort(final)[::-1][:3])


def test_horizon_errors_give_rmse_at_every_future_step():
    true = np.zeros((4, 10, 2))
    pred = np.zeros_like(true)
    pred[:, :, 0] = np.arange(1, 11)  # every window misses by k metres at step k
    table = nb.horizon_errors({"m": pred}, true, sample_hz=5)
    assert np.allclose(table["rmse_m"], np.arange(1, 11))
    assert np.allclose(table["horizon_s"], np.arange(1, 11) / 5)


@pytest.mark.slow
def test_dvc_experiments_lists_each_experiment_with_the_params_that_differ_and_its_metrics(dvc_experiments_repo):
    table = nb.dvc_experiments(dvc_experiments_repo)
    assert {"workspace", "fast"} <= set(table.index)
    assert table.loc["fast", "lr"] == 0.3
    assert table.loc["fast", "metrics.json:test.rmse_5s"] == pytest.approx(1.3)
    assert table.loc["fast", "parent"] in set(table.index)
    assert "model.name" not in table.columns  # the same everywhere
    assert "model.name" in nb.dvc_experiments(dvc_experiments_repo, all_params=True).columns


def test_dvc_experiments_says_which_folder_is_not_a_dvc_project(tmp_path):
    with pytest.raises(DrivelabError, match=str(tmp_path.name)):
        nb.dvc_experiments(tmp_path)


def test_plot_scene_draws_the_target_its_neighbours_and_each_prediction(sim_data_dir):
    import matplotlib

    matplotlib.use("Agg")
    data = nb.load_data(sim_data_dir)
    sample = data.sample("test", [0])
    ax = nb.plot_scene(sample, 0, {"a": sample["future"] + 1.0, "b": sample["future"] - 1.0})
    neighbours = int(np.asarray(sample["neighbour_mask"][0]).any(axis=1).sum())
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"history", "true future", "a", "b"} <= set(labels)
    assert len(ax.get_lines()) >= 4 + neighbours


def test_sweep_of_names_the_hydra_multirun_or_drivelab_sweep_folder(tmp_path):
    from drivelab.runs.listing import sweep_of

    multirun = tmp_path / "multirun" / "2026-01-01" / "10-00-00_abc"
    (multirun / "3").mkdir(parents=True)
    (multirun / "multirun.yaml").write_text("hydra: {}\n")
    trial = tmp_path / "sweeps" / "lr" / "trials" / "0007_a1b2c3"
    trial.mkdir(parents=True)
    single = tmp_path / "2026-01-01" / "10-00-00_mlp_abc"
    single.mkdir(parents=True)
    assert sweep_of(multirun / "3", tmp_path) == "multirun/2026-01-01/10-00-00_abc"
    assert sweep_of(trial, tmp_path) == "sweeps/lr"
    assert sweep_of(single, tmp_path) == ""
    assert sweep_of(multirun / "3", multirun) == "."
