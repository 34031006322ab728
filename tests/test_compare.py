"""`drivelab compare`: the run cache, paired bootstrap intervals and the report, on tiny data through the real CLI."""

import numpy as np
import pytest
from omegaconf import open_dict

from conftest import drivelab, read_json
from drivelab.compare import cache, stats
from drivelab.config.validate import compose
from highd_traffic import write_steady_traffic

COMPARE = {"experiment": "mlp_small", "compare.baselines": "[cv]", "compare.seeds": "2", "compare.workers": "2",
           "compare.bootstrap_samples": "200", "trainer.max_epochs": "1", "trainer.limit_train_batches": "10",
           "logger": "csv"}


def compare(data_dir, runs_dir, **changes):
    settings = {**COMPARE, **{key.replace("__", "."): value for key, value in changes.items()}}
    done = drivelab("compare", f"paths.data_dir={data_dir}", f"paths.runs_dir={runs_dir}",
                    *(f"{key}={value}" for key, value in settings.items()))
    [written] = [line for line in done.stdout.splitlines() if line.startswith("written: ")]
    json_path = written.removeprefix("written: ").split(", ")[0]
    return done.stdout, read_json(json_path)


def manifests(runs):
    return {run["run_dir"]: read_json(f"{run['run_dir']}/manifest.json") for run in runs}


def test_second_compare_takes_every_run_from_the_cache_and_scores_extra_data(sim_data_dir, tmp_path):
    runs_dir = tmp_path / "runs"
    output, first = compare(sim_data_dir, runs_dir)
    assert [(run["model"], run["seed"], run["cached"]) for run in first["runs"]] == \
        [("mlp_small", 42, False), ("mlp_small", 43, False), ("cv", 42, False), ("cv", 43, False)]
    trained = manifests(first["runs"])
    assert all(manifest["status"] == "completed" for manifest in trained.values())
    assert [trained[run["run_dir"]]["cache_key"] for run in first["runs"]] == [run["cache_key"] for run in first["runs"]]
    assert len({run["cache_key"] for run in first["runs"]}) == 4  # every model and seed is its own run
    evaluation = first["evaluations"][0]
    for name, entry in evaluation["slices"].items():
        assert set(entry["models"]) == {"mlp_small", "cv"} if entry["count"] else entry["models"] == {}
        for difference in entry["differences"].get("cv", {}).values():
            assert difference["low"] <= difference["difference"] <= difference["high"]
    assert len(evaluation["rmse_by_step"]["models"]["cv"]) == 2  # one curve per seed: the plot's band

    write_steady_traffic(tmp_path / "highd")
    drivelab("prepare", "source=highd", f"source.path={tmp_path / 'highd'}", f"paths.data_dir={tmp_path / 'highd_data'}",
             "windows.split.by=time")
    output, second = compare(sim_data_dir, runs_dir, compare__eval_data=f"[{tmp_path / 'highd_data'}]")
    assert "4 from the cache, 0 to train" in output and "2 from cache" in output
    assert [run["run_dir"] for run in second["runs"]] == [run["run_dir"] for run in first["runs"]]
    assert manifests(second["runs"]) == trained  # nothing was trained again: every manifest is untouched
    assert len(list((runs_dir / "compare").glob("*/*/manifest.json"))) == 4
    assert second["evaluations"][0]["slices"] == evaluation["slices"]
    extra = second["evaluations"][1]
    assert extra["data_dir"] == str(tmp_path / "highd_data") and extra["windows"] > 0
    comparison_dir = sorted((runs_dir / "comparisons").glob("*/*"))[-1]
    assert (comparison_dir / "error_vs_horizon.png").stat().st_size > 0
    assert "every window of" in (comparison_dir / "compare.md").read_text()

    _, again = compare(sim_data_dir, runs_dir, compare__seeds="1", compare__rerun="true")
    assert not any(run["cached"] for run in again["runs"])
    assert {run["run_dir"] for run in again["runs"]}.isdisjoint(trained)  # new runs beside the cached ones
    assert [run["cache_key"] for run in again["runs"]] == [first["runs"][0]["cache_key"], first["runs"][2]["cache_key"]]


def synthetic_errors(rng, windows=400, seeds=3, scale=1.0):
    """Per-seed per-window squared errors: a shared difficulty per window, times model scale, plus seed noise."""
    difficulty = rng.gamma(2.0, 1.0, windows)
    return difficulty, [scale * difficulty * rng.normal(1.0, 0.05, windows) for _ in range(seeds)]


def test_interval_excludes_zero_for_a_clearly_better_model():
    rng = np.random.default_rng(0)
    difficulty, baseline = synthetic_errors(rng)
    better = [0.8 * difficulty * rng.normal(1.0, 0.05, len(difficulty)) for _ in range(3)]
    mask = np.ones(len(difficulty), bool)
    result = stats.paired_differences({"rmse_5s": better}, {"base": {"rmse_5s": baseline}}, {"rmse_5s": "root_mean"},
                                      mask, 1000, 0.95, seed=0)["base"]["rmse_5s"]
    assert result.significant and result.high < 0


def test_interval_includes_zero_for_the_same_model_under_two_names():
    rng = np.random.default_rng(1)
    difficulty, first = synthetic_errors(rng)
    second = [difficulty * rng.normal(1.0, 0.05, len(difficulty)) for _ in range(3)]  # same model, other seeds
    mask = np.ones(len(difficulty), bool)
    result = stats.paired_differences({"ade": first}, {"same": {"ade": second}}, {"ade": "mean"}, mask, 1000, 0.95,
                                      seed=0)["same"]["ade"]
    assert not result.significant and result.low < 0 < result.high
    assert result.high - result.low < 0.2 * np.mean(difficulty)  # paired: the windows' own spread cancels


def test_a_change_to_the_models_code_changes_its_cache_key(tmp_path, monkeypatch):
    source = tmp_path / "idea_model_under_test.py"
    source.write_text("class Idea:\n    hidden = 64\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = compose("train", ["model=mlp"])
    with open_dict(cfg):
        cfg.model._target_ = "idea_model_under_test.Idea"
    before = cache.cache_key(cache.cache_parts(cfg, "data.dir"))
    assert cache.cache_key(cache.cache_parts(cfg, "data.dir")) == before  # stable
    source.write_text("class Idea:\n    hidden = 128\n")
    assert cache.cache_key(cache.cache_parts(cfg, "data.dir")) != before
    assert cache.cache_key(cache.cache_parts(cfg, "other.dir")) != cache.cache_key(cache.cache_parts(cfg, "data.dir"))


def test_cache_key_ignores_where_runs_are_written_but_not_what_they_learn():
    base = cache.cache_key(cache.cache_parts(compose("train", ["model=mlp"]), "v1"))
    moved = compose("train", ["model=mlp", "paths.runs_dir=/elsewhere", "logger=csv", "trainer.enable_progress_bar=false"])
    assert cache.cache_key(cache.cache_parts(moved, "v1")) == base
    for change in ("seed=7", "model.hidden_size=32", "trainer.max_epochs=3"):
        assert cache.cache_key(cache.cache_parts(compose("train", ["model=mlp", change]), "v1")) != base


@pytest.mark.parametrize("overrides,message", [
    (["compare.baselines=[mlp_small]", "experiment=mlp_small"], "names mlp_small, the idea itself"),
    (["compare.seeds=0"], "compare.seeds=0 is out of range"),
])
def test_bad_comparisons_are_refused_in_one_line(tmp_path, overrides, message):
    done = drivelab("compare", "experiment=mlp_small", f"paths.runs_dir={tmp_path}", *overrides, check=False)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
