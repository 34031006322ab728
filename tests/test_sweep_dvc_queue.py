"""The DVC route to a grid: `dvc exp run --queue -S 'model.hidden_size=64,128'`, `dvc queue start`, `dvc exp show`,
in a temporary git repository holding the project's pipeline. Both experiments run their own training; the second
reuses the data stages through DVC's run cache."""

import json
import shutil
import time

import pytest

from conftest import BIN_DIR, PROJECT_ROOT, run_in_repo as run

pytestmark = pytest.mark.slow

TINY = """# @package _global_
# Test-sized pipeline.
defaults:
  - override /logger: csv
simulate:
  episodes: 3
  duration_s: 20.0
trainer:
  max_epochs: 1
  limit_train_batches: 5
  enable_progress_bar: false
  enable_model_summary: false
"""


def dvc(repo, *args):
    return run(repo, str(BIN_DIR / "dvc"), *args)


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("conf", "lib", "experiments", ".dvc"):
        shutil.copytree(PROJECT_ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "params.yaml"):
        shutil.copy(PROJECT_ROOT / name, repo / name)
    for stale in (repo / "conf" / "local").glob("*.yaml"):
        stale.unlink()
    (repo / "conf" / "local" / "default.yaml").write_text(TINY)
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "pipeline")
    return repo


def test_queued_grid_runs_each_experiment_and_exp_show_compares_them(repo):
    out = dvc(repo, "exp", "run", "--queue", "-S", "model.hidden_size=64,128", "train")
    assert out.count("Queued experiment") == 2
    dvc(repo, "queue", "start", "-j", "1")  # one worker: DVC's parallel queue workers are unreliable
    deadline = time.monotonic() + 480
    while True:
        status = dvc(repo, "queue", "status")
        if not any(word in status for word in ("Queued", "Running")) or time.monotonic() > deadline:
            break
        time.sleep(5)  # each status call starts DVC: poll gently
    assert status.count("Success") == 2, status

    experiments = [exp for row in json.loads(dvc(repo, "exp", "show", "--json")) for exp in row.get("experiments") or []]
    results = {}
    for experiment in experiments:
        data = experiment["revs"][0]["data"]
        hidden_size = data["params"]["params.yaml"]["data"]["model"]["hidden_size"]
        results[hidden_size] = data["metrics"]["models/train/metrics.json"]["data"]["test/rmse_5s"]
    assert set(results) == {64, 128}
    assert results[64] != results[128]  # two trainings, not one result shown twice
