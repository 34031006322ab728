"""`drivelab eval run_dir=X data_dir=Y`: a simulation-trained run scored on a highD recording written by the tests."""

import json

import numpy as np
import pytest

from conftest import drivelab, read_json
from drivelab.data.windows import store
from highd_traffic import write_steady_traffic


@pytest.fixture(scope="module")
def highd_data_dir(tmp_path_factory):
    """One highD recording, prepared with the default window settings and split in time."""
    folder = tmp_path_factory.mktemp("highd")
    write_steady_traffic(folder / "raw")
    drivelab("prepare", "source=highd", f"source.path={folder / 'raw'}", f"paths.data_dir={folder / 'data'}",
             "windows.split.by=time")
    return folder / "data"


def test_sim_trained_run_scores_every_window_of_a_highd_recording(trained_run, highd_data_dir, tmp_path):
    drivelab("eval", f"run_dir={trained_run}", f"data_dir={highd_data_dir}", "eval.split=all",
             f"output_dir={tmp_path}")
    results = read_json(tmp_path / "eval_metrics.json")
    assert results["splits"] == list(store.SPLITS)
    info = store.read_info(highd_data_dir / "windows")
    slices = read_json(tmp_path / "eval_slice_metrics.json")["slices"]
    assert slices["all"]["count"] == sum(info["splits"][split]["windows"] for split in store.SPLITS)
    assert np.isfinite(results["metrics"]["test/rmse_5s"])
    assert results["baseline"]["metrics"]["test/rmse_5s"] < 0.5  # constant velocity is exact on this traffic


def test_eval_on_another_data_version_keeps_the_runs_normalisation(trained_run, highd_data_dir):
    from drivelab.runs import open_run

    _, model, _ = open_run(trained_run).test(highd_data_dir, test_splits=store.SPLITS)
    trained = json.loads((open_run(trained_run).windows_dir() / "windows.json").read_text())["normalisation"]
    other = store.read_info(highd_data_dir / "windows")["normalisation"]
    np.testing.assert_allclose(model.scaler.mean.numpy(), trained["history_mean"], rtol=1e-6)
    assert not np.allclose(trained["history_mean"], other["history_mean"])


def test_other_window_settings_are_refused_naming_them(trained_run, tmp_path):
    write_steady_traffic(tmp_path / "raw")
    drivelab("prepare", "source=highd", f"source.path={tmp_path / 'raw'}", f"paths.data_dir={tmp_path / 'data'}",
             "windows.split.by=time", "windows.history_s=2.0")
    done = drivelab("eval", f"run_dir={trained_run}", f"data_dir={tmp_path / 'data'}", check=False)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "windows.history_s: 3.0 vs 2.0" in line and "windows.stride_s" not in line
