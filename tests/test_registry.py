"""The model registry in a temporary git + DVC repository: promote (gated, one commit, annotated tags, never
pushed), list, fetch the production model in a fresh clone from the DVC remote, demote and roll back; promotion
refused on a dirty tree and on a failing gate."""

import pytest

from conftest import BIN_DIR, drivelab, read_json, run_in_repo
from registry_repo import copy_run, make_registry_repo, promote

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(sim_data_dir, trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    repo = make_registry_repo(root, sim_data_dir / "windows")
    good = copy_run(trained_run, root / "runs" / "good")
    worse = copy_run(trained_run, root / "runs" / "worse", weight_noise=0.05)
    return repo, good, worse


def tags(repo):
    return run_in_repo(repo, "git", "tag", "-l").split()


def models(repo, *args, check=True):
    return drivelab("models", *args, cwd=repo, check=check)


def test_registry_round_trip_promote_list_fetch_in_a_fresh_clone_demote_and_roll_back(registry, tmp_path):
    repo, good, worse = registry
    head_before = run_in_repo(repo, "git", "rev-parse", "HEAD").strip()
    done = promote(repo, good, "staging")
    assert "registered as trajectory v0.0.1" in done.stdout and "gate PASSED" in done.stdout
    assert set(tags(repo)) == {"trajectory@v0.0.1", "trajectory#staging#1"}
    # one commit on top, holding the registry files; the tree is clean again and nothing was pushed
    assert run_in_repo(repo, "git", "rev-parse", "HEAD~1").strip() == head_before
    committed = run_in_repo(repo, "git", "show", "--name-only", "--format=", "HEAD").split()
    assert set(committed) == {"registry/trajectory.dvc", "registry/trajectory.json", "registry/.gitignore", "dvc.yaml"}
    assert run_in_repo(repo, "git", "status", "--porcelain") == ""
    tag_text = run_in_repo(repo, "git", "tag", "-l", "-n20", "trajectory#staging#1")
    for expected in ("by: Rita Reviewer <rita@example.org>", "why: test promotion", "gate passed", "RMSE@5s",
                     f"run: {good.name}"):
        assert expected in tag_text
    assert run_in_repo(repo, "git", "cat-file", "-t", "trajectory#staging#1").strip() == "tag"  # annotated
    assert "trajectory" in (repo / "dvc.yaml").read_text() and "registry/trajectory" in (repo / "dvc.yaml").read_text()

    done = promote(repo, good, "prod")  # the same run: no new version, the stage moves
    assert "already registered as trajectory v0.0.1" in done.stdout
    done = promote(repo, worse, "prod", "gate.incumbent.tolerance=10")  # prod is the incumbent: the ratio is measured
    assert "incumbent: trajectory@v0.0.1 (prod, staging)" in done.stdout
    ratio = next(line for line in done.stdout.splitlines() if line.startswith("incumbent.rmse_5s_ratio"))
    assert float(ratio.split()[1]) > 1.0  # the noisy weights are worse than production
    assert {"trajectory@v0.0.2", "trajectory#prod#2", "trajectory#prod#3"} <= set(tags(repo))

    table = models(repo).stdout
    lines = {line.split()[1]: line for line in table.splitlines() if line.startswith("trajectory")}
    assert "prod" in lines["v0.0.2"] and "staging" in lines["v0.0.1"] and "prod" not in lines["v0.0.1"]
    lineage = read_json(repo / "registry" / "trajectory.json")
    for version_line in lines.values():
        assert "pass" in version_line and lineage["run"]["data_version"][:12] in version_line
    assert lineage["run"]["name"] in lines["v0.0.2"] and "Rita Reviewer" in lines["v0.0.2"]

    run_in_repo(repo, str(BIN_DIR / "dvc"), "push", "-q")
    clone = tmp_path / "clone"
    run_in_repo(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    fetched = models(clone, "get", "trajectory@prod")
    folder = clone / "models" / "registry" / "trajectory@prod"
    assert "v0.0.2" in fetched.stdout and "card.md" in fetched.stdout
    assert {"model.onnx", "card.json", "card.md", "gate.json", "gate.md"} <= {p.name for p in folder.iterdir()}
    assert read_json(folder / "card.json")["checkpoint"]["md5"] == lineage["checkpoint_md5"]  # the worse run's

    done = models(repo, "rollback", "trajectory@prod", "reason=worse in replay")
    assert "rolled back to v0.0.1 (was v0.0.2)" in done.stdout
    assert "why: worse in replay" in run_in_repo(repo, "git", "tag", "-l", "-n20", "trajectory#prod#4")
    assert models(repo, "get", "trajectory@prod", f"out={tmp_path / 'prod'}").stdout.count("v0.0.1") == 1
    done = models(repo, "demote", "trajectory@staging", "reason=staging is free for the next candidate")
    assert "held by no version" in done.stdout
    lines = {line.split()[1]: line for line in models(repo).stdout.splitlines() if line.startswith("trajectory")}
    assert "prod" in lines["v0.0.1"] and "staging" not in lines["v0.0.1"] and "prod" not in lines["v0.0.2"]
    assert run_in_repo(repo, "git", "status", "--porcelain") == ""


def test_promotion_is_refused_on_a_dirty_tree_with_nothing_registered(registry):
    repo, good, _ = registry
    before = tags(repo)
    (repo / "notes.txt").write_text("uncommitted\n")
    try:
        done = promote(repo, good, "staging", check=False)
    finally:
        (repo / "notes.txt").unlink()
    assert done.returncode == 2 and "not clean (notes.txt)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and tags(repo) == before


def test_promotion_is_refused_when_the_gate_fails_with_nothing_registered(registry):
    repo, good, _ = registry
    before, head = tags(repo), run_in_repo(repo, "git", "rev-parse", "HEAD")
    done = promote(repo, good, "staging", "gate.metrics.max_rmse_5s_m=0.01", check=False)
    assert done.returncode == 1 and "gate rejected" in done.stderr and "metrics.rmse_5s" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "gate FAILED" in done.stdout
    assert tags(repo) == before and run_in_repo(repo, "git", "rev-parse", "HEAD") == head


def test_an_unknown_stage_is_refused_naming_the_allowed_ones(registry):
    repo, good, _ = registry
    done = promote(repo, good, "qa", check=False)
    assert done.returncode == 2 and "staging, prod" in done.stderr and ".gto" in done.stderr
