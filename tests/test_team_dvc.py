"""A team's set-up (docs/scaling.md): clones of one git repository share one DVC cache and one remote. The first
clone builds a data version and trains on it; the second pulls that version, retrains and gets the same metrics; a
clone with a cache of its own (another machine) gets the same data version from the remote."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN_DIR, PROJECT_ROOT, cli_env, run_in_repo as run
from drivelab.lineage import dvc_dir_md5

pytestmark = pytest.mark.slow

DVC = str(BIN_DIR / "dvc")
TINY = """# @package _global_
defaults:
  - override /logger: csv
simulate:
  episodes: 4
  duration_s: 20.0
trainer:
  max_epochs: 1
  enable_progress_bar: false
  enable_model_summary: false
"""


def _join_team(clone, shared):
    """What docs/scaling.md tells each team member to run once in a fresh clone."""
    run(clone, DVC, "cache", "dir", "--local", str(shared / "dvc-cache"))
    run(clone, DVC, "config", "--local", "cache.shared", "group")
    run(clone, DVC, "config", "--local", "cache.type", "symlink,copy")
    run(clone, DVC, "remote", "modify", "--local", "local", "url", str(shared / "dvc-store"))


def _compose_params(repo):
    """params.yaml from conf/ (what `make params` does), for a plain `dvc repro`."""
    subprocess.run([str(BIN_DIR / "python"), "-c", "from dvc.utils.hydra import compose_and_dump as c; "
                    f"c('params.yaml', '{repo / 'conf'}', None, 'train', '.', [])"],
                   cwd=repo, env=cli_env(), check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """A shared folder (origin repository, DVC cache, DVC remote) and the first member's clone after training."""
    root = tmp_path_factory.mktemp("team")
    shared, start = root / "shared", root / "start"
    shared.mkdir()
    start.mkdir()
    for name in ("conf", "lib", "experiments", ".dvc"):
        shutil.copytree(PROJECT_ROOT / name, start / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "params.yaml"):
        shutil.copy(PROJECT_ROOT / name, start / name)
    (start / "conf" / "local" / "default.yaml").write_text(TINY)
    _compose_params(start)  # test-sized settings committed in params.yaml, so every clone runs the same
    run(start, "git", "init", "-q", "-b", "main")
    run(start, "git", "add", "-A")
    run(start, "git", "commit", "-qm", "project")
    run(root, "git", "clone", "-q", "--bare", str(start), str(shared / "origin.git"))

    first = root / "first"
    run(root, "git", "clone", "-q", str(shared / "origin.git"), str(first))
    _join_team(first, shared)
    run(first, DVC, "repro", "train")
    run(first, "git", "add", "dvc.lock")
    run(first, "git", "commit", "-qm", "data version and model")
    run(first, DVC, "push")
    run(first, "git", "push", "-q", "origin", "main")
    return root, shared, first


def _windows_hash(repo) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return next(out["md5"] for out in lock["stages"]["windows"]["outs"] if out["path"] == "data/windows")


def test_second_clone_pulls_the_data_version_and_reproduces_the_metrics(team):
    root, shared, first = team
    second = root / "second"
    run(root, "git", "clone", "-q", str(shared / "origin.git"), str(second))
    _join_team(second, shared)
    run(second, DVC, "pull", "windows", "train")
    pulled_metrics = json.loads((second / "models" / "train" / "metrics.json").read_text())
    assert pulled_metrics == json.loads((first / "models" / "train" / "metrics.json").read_text())
    assert not (second / "data" / "raw").exists()  # only the asked outputs came, nothing was simulated again
    window_file = second / "data" / "windows" / "windows.json"
    assert window_file.is_symlink() and (shared / "dvc-cache") in window_file.resolve().parents  # no second copy

    run(second, DVC, "repro", "--force", "--single-item", "train")
    retrained = json.loads((second / "models" / "train" / "metrics.json").read_text())
    assert retrained == pulled_metrics
    manifest = json.loads((second / "models" / "train" / "manifest.json").read_text())
    assert manifest["data_version"] == _windows_hash(first)


def test_clone_with_its_own_cache_gets_the_data_version_from_the_remote(team):
    root, shared, first = team
    elsewhere = root / "elsewhere"
    run(root, "git", "clone", "-q", str(shared / "origin.git"), str(elsewhere))
    run(elsewhere, DVC, "remote", "modify", "--local", "local", "url", str(shared / "dvc-store"))
    run(elsewhere, DVC, "pull", "windows")
    assert (elsewhere / "data" / "windows" / "windows.json").read_bytes() == \
        (first / "data" / "windows" / "windows.json").read_bytes()
    assert dvc_dir_md5(elsewhere / "data" / "windows") == _windows_hash(first)
