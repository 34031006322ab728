"""`drivelab data diff A B`: identical versions pass, a deliberately shifted one is flagged (exit status 1),
recordings added and removed are listed, and DVC revisions are read from the cache."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import BIN_DIR, cli_env, drivelab, read_json
from drivelab.data.health import drift
from drivelab.data.tracks import canonical
from drivelab.data.windows.build import build
from track_tables import platoon
from window_specs import default_spec

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}


def version(folder, speeds, names=None):
    """A data version of platoon recordings, one per speed (recordings differ, so the split mixes speeds)."""
    names = names or [f"rec_{i}" for i in range(len(speeds))]
    for name, speed in zip(names, speeds):
        canonical.write(platoon(name, lanes=3, speed_mps=speed, change_left_at_s=9.0), folder / "tracks" / f"{name}.parquet")
    build(folder / "tracks", folder / "windows", default_spec(), SPLIT, 1 << 27, 1)
    return folder


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("versions")
    speeds = [18.0, 20.0, 22.0, 24.0, 26.0, 28.0]
    return {
        "a": version(root / "a", speeds),
        "faster": version(root / "faster", [speed * 1.25 for speed in speeds]),  # the same traffic, 25% faster
        "swapped": version(root / "swapped", speeds[:5] + [28.0], [f"rec_{i}" for i in range(5)] + ["rec_new"]),
    }


def test_psi_and_ks_are_zero_for_identical_samples_and_large_for_disjoint_ones():
    values = np.random.default_rng(0).normal(size=5000)
    assert drift.psi(values, values) == 0.0 and drift.ks(values, values) == 0.0
    assert drift.psi(values, values + 3) > 2 and drift.ks(values, values + 3) > 0.8
    assert drift.psi(values, np.random.default_rng(1).normal(size=5000)) < 0.05  # sampling noise is not a shift
    assert drift.psi(np.zeros(100), np.ones(100), discrete=True) > 5  # a value never seen before


def test_identical_versions_flag_nothing_and_exit_0(versions, tmp_path):
    shutil.copytree(versions["a"] / "windows", tmp_path / "copy")
    done = drivelab("data", "diff", str(versions["a"]), str(tmp_path / "copy"), f"json={tmp_path / 'diff.json'}")
    result = read_json(tmp_path / "diff.json")
    assert result["identical"] and result["shifted"] == []
    assert all(row["psi"] == 0 and row["ks"] == 0 for row in result["features"].values())
    assert "no feature shifted" in done.stdout


def test_a_deliberately_shifted_version_is_flagged_with_exit_1(versions, tmp_path):
    done = drivelab("data", "diff", str(versions["a"] / "windows"), str(versions["faster"]), f"json={tmp_path / 'd.json'}",
                    check=False)
    assert done.returncode == 1, done.stderr
    result = read_json(tmp_path / "d.json")
    assert "speed_mps" in result["shifted"] and "neighbour_count" not in result["shifted"]
    speed = result["features"]["speed_mps"]
    assert speed["mean_b"] == pytest.approx(1.25 * speed["mean_a"], rel=1e-3)
    assert result["recordings"]["changed"] == sorted(f"rec_{i}" for i in range(6))  # same names, other tracks
    assert "speed_mps" in done.stdout and "SHIFTED" in done.stdout


def test_the_threshold_and_statistic_decide_what_is_flagged(versions):
    strict = drivelab("data", "diff", str(versions["a"]), str(versions["faster"]), "statistic=ks", "threshold=1.0",
                      check=False)
    assert strict.returncode == 0, strict.stdout  # KS never exceeds 1
    bad = drivelab("data", "diff", str(versions["a"]), str(versions["faster"]), "statistic=chi2", check=False)
    assert bad.returncode == 2 and "statistic=chi2" in bad.stderr


def test_new_and_removed_recordings_are_listed(versions, tmp_path):
    drivelab("data", "diff", str(versions["a"]), str(versions["swapped"]), f"json={tmp_path / 'd.json'}", check=False)
    result = read_json(tmp_path / "d.json")
    assert result["recordings"] == {"new": ["rec_new"], "removed": ["rec_5"], "changed": []}


@pytest.mark.slow
def test_dvc_revisions_are_read_from_the_cache(versions, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")

    def run(*args):
        done = subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"

    (repo / "copy_windows.py").write_text(
        "import shutil, sys\nsource = open('source.txt').read().strip()\n"
        "shutil.rmtree('data/windows', ignore_errors=True)\nshutil.copytree(source, 'data/windows')\n")
    (repo / "dvc.yaml").write_text(f"stages:\n  windows:\n    cmd: {sys.executable} copy_windows.py\n"
                                   "    deps: [source.txt, copy_windows.py]\n    outs: [data/windows]\n")
    run("git", "init", "-q")
    run(str(BIN_DIR / "dvc"), "init", "-q")
    for name in ("a", "faster"):
        (repo / "source.txt").write_text(str(versions[name] / "windows"))
        run(str(BIN_DIR / "dvc"), "repro", "-q")
        run("git", "add", "-A")
        run("git", "commit", "-qm", name)
    shutil.rmtree(repo / "data")  # only the cache holds the windows now
    shifted = drivelab("data", "diff", "HEAD~1", "HEAD", cwd=repo, check=False)
    assert shifted.returncode == 1, shifted.stderr
    assert "speed_mps" in shifted.stdout.split("shift above")[-1]
    same = drivelab("data", "diff", "HEAD", "HEAD", cwd=repo, check=False)
    assert same.returncode == 0 and "identical content" in same.stdout


def test_a_revision_without_dvc_lock_says_what_to_compare_instead(tmp_path):
    env = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for args in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", "a"],
                 ["git", "commit", "-q", "--allow-empty", "-m", "b"]):
        subprocess.run(args, cwd=tmp_path, env=env, check=True, timeout=60)
    done = drivelab("data", "diff", "HEAD~1", "HEAD", cwd=tmp_path, check=False)
    assert done.returncode == 2
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1 and "revision HEAD~1 has no dvc.lock" in message
    assert "drivelab data diff data/windows data/other/windows" in message
