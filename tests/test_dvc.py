"""The DVC pipeline in a temporary git repository: repro, no-op repro, `dvc exp run -S`, push to the local remote."""

import json
import shutil

import pytest
import yaml

from conftest import BIN_DIR, PROJECT_ROOT, run_in_repo as run
from drivelab.lineage import dvc_dir_md5

pytestmark = pytest.mark.slow

TINY = """# @package _global_
# Test-sized pipeline.
defaults:
  - override /logger: csv
simulate:
  episodes: 4
  duration_s: 30.0
trainer:
  max_epochs: 2
  enable_progress_bar: false
  enable_model_summary: false
"""


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("pipeline") / "repo"
    repo.mkdir()
    for name in ("conf", "lib", "experiments", ".dvc"):
        shutil.copytree(PROJECT_ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "params.yaml"):
        shutil.copy(PROJECT_ROOT / name, repo / name)
    (repo / "conf" / "local" / "default.yaml").write_text(TINY)
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "pipeline")
    run(repo, str(BIN_DIR / "dvc"), "exp", "run")
    return repo


def test_pipeline_runs_every_stage_and_records_the_data_version(pipeline_repo):
    lock = yaml.safe_load((pipeline_repo / "dvc.lock").read_text())
    assert {"simulate", "ingest", "clean", "windows", "train", "evaluate", "export", "gate"} <= set(lock["stages"])
    assert "prepare" not in lock["stages"]  # replaced by its three stages
    windows_md5 = next(out["md5"] for out in lock["stages"]["windows"]["outs"] if out["path"] == "data/windows")
    manifest = json.loads((pipeline_repo / "models/train/manifest.json").read_text())
    assert manifest["data_version"] == windows_md5 == dvc_dir_md5(pipeline_repo / "data/windows")
    assert (pipeline_repo / "reports/evaluate/eval_metrics.json").is_file()
    params = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    assert params["simulate"]["episodes"] == 4  # composed from conf/ (with conf/local) by `dvc exp run`


def test_gate_stage_judges_the_model_on_the_pipeline_data_and_records_a_dvc_metric(pipeline_repo):
    report = json.loads((pipeline_repo / "reports/gate/gate.json").read_text())
    lock = yaml.safe_load((pipeline_repo / "dvc.lock").read_text())
    windows_md5 = next(out["md5"] for out in lock["stages"]["windows"]["outs"] if out["path"] == "data/windows")
    assert report["data"] == {"revision": "workspace", "path": "data/windows", "md5": windows_md5,
                              "test_windows": report["data"]["test_windows"]}
    assert len(report["checks"]) == 17 and isinstance(report["passed"], bool)  # recorded, pass or not
    assert (pipeline_repo / "models/train/export/model.onnx").is_file()
    shown = json.loads(run(pipeline_repo, str(BIN_DIR / "dvc"), "metrics", "show", "--json"))
    assert "reports/gate/gate.json" in json.dumps(shown)


def test_second_repro_with_nothing_changed_runs_no_stage(pipeline_repo):
    out = run(pipeline_repo, str(BIN_DIR / "dvc"), "repro")
    assert "Running stage" not in out
    assert "up to date" in out


def test_exp_run_overrides_reach_training_and_show_lists_metrics(pipeline_repo):
    out = run(pipeline_repo, str(BIN_DIR / "dvc"), "exp", "run", "-S", "model=gru", "-S", "trainer.max_epochs=1")
    assert "Running stage 'train'" in out and "Running stage 'simulate'" not in out
    config = yaml.safe_load((pipeline_repo / "models/train/config.yaml").read_text())
    assert config["model"]["_target_"] == "drivelab.models.gru.GRUEncoderDecoder"
    assert config["trainer"]["max_epochs"] == 1
    shown = json.loads(run(pipeline_repo, str(BIN_DIR / "dvc"), "exp", "show", "--json"))
    text = json.dumps(shown)
    assert "rmse_5s" in text and "GRUEncoderDecoder" in text


def test_a_baseline_without_weights_runs_through_the_pipeline_like_any_model(pipeline_repo):
    run(pipeline_repo, str(BIN_DIR / "dvc"), "exp", "run", "-S", "model=cv")
    manifest = json.loads((pipeline_repo / "models/train/manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["best_checkpoint"] is None
    assert json.loads((pipeline_repo / "reports/evaluate/eval_metrics.json").read_text())["metrics"]["test/rmse_5s"] > 0
    assert (pipeline_repo / "models/train/plots/error_vs_horizon.png").is_file()


def test_code_a_stage_runs_is_its_dependency(pipeline_repo):
    """Editing the data module (read by the stages that build a model, not by windowing) re-runs those, not the data
    stages."""
    module = pipeline_repo / "lib/drivelab/data/windows/datamodule.py"
    module.write_text(module.read_text() + "\n# edited\n")
    status = run(pipeline_repo, str(BIN_DIR / "dvc"), "status", "--json")
    assert set(json.loads(status)) == {"train", "evaluate", "export", "gate"}
    run(pipeline_repo, "git", "checkout", "--", "lib/drivelab/data/windows/datamodule.py")


def test_push_and_pull_through_the_default_local_remote(pipeline_repo):
    run(pipeline_repo, str(BIN_DIR / "dvc"), "push")
    shutil.rmtree(pipeline_repo / ".dvc" / "cache")
    shutil.rmtree(pipeline_repo / "data" / "windows")
    run(pipeline_repo, str(BIN_DIR / "dvc"), "pull")
    assert (pipeline_repo / "data" / "windows" / "windows.json").is_file()


def test_health_stage_metrics_and_plots_are_shown_by_dvc(pipeline_repo):
    metrics = json.loads(run(pipeline_repo, str(BIN_DIR / "dvc"), "metrics", "show", "--json"))
    health = json.dumps(metrics)
    assert "reports/health/summary.json" in health and "windows_train" in health and "rows_quarantined" in health
    assert "reports/health/health.json" not in health  # every feature's statistics: a report, not a metric
    plots = run(pipeline_repo, str(BIN_DIR / "dvc"), "plots", "show", "--json")
    assert "features.png" in plots and "flow.png" in plots
