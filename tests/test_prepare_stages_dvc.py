"""The ingest -> clean -> windows stages under `dvc repro` in a temporary repository, on highD files you bring."""

import json
import shutil

import pytest
import yaml

from conftest import BIN_DIR, PROJECT_ROOT
from highd_files import Vehicle, read_lines, write_lines, write_recording
from test_dvc import run  # a command in the temporary repository, as a git user

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def highd_repo(tmp_path_factory):
    """A project copy whose params.yaml points the source at a folder of highD recordings outside the repo."""
    root = tmp_path_factory.mktemp("stages")
    source = root / "highd"
    for number in (1, 2, 3):
        write_recording(source, number, [Vehicle(1, 2, 100, 24, 20), Vehicle(2, 2, 130, 28, 22), Vehicle(3, 1, 400, 12, -25)])
    repo = root / "repo"
    repo.mkdir()
    for name in ("conf", "lib", ".dvc"):
        shutil.copytree(PROJECT_ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, repo / name)
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(repo / "params.yaml", str(repo / "conf"), None, "train", str(repo),
                     ["source=highd", f"source.path={source}", "clean.workers=1"])
    run(repo, "git", "init", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "stages")
    out = run(repo, str(BIN_DIR / "dvc"), "repro", "windows")
    return repo, source, out


def test_repro_runs_ingest_clean_and_windows_on_the_source_folder(highd_repo):
    repo, source, out = highd_repo
    assert all(f"Running stage '{stage}'" in out for stage in ("ingest", "clean", "windows"))
    assert "Running stage 'simulate'" not in out  # the source folder, not simulate's output, feeds ingest
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert {dep["path"] for dep in lock["stages"]["ingest"]["deps"]} >= {str(source)}
    assert sorted(p.name for p in (repo / "data" / "tracks").glob("*.parquet")) == [
        "highd_01.parquet", "highd_02.parquet", "highd_03.parquet"]
    assert (repo / "data" / "windows").is_dir()


def test_clean_report_is_an_output_not_a_dvc_metric(highd_repo):
    repo, _, _ = highd_repo
    shown = json.loads(run(repo, str(BIN_DIR / "dvc"), "metrics", "show", "--json"))
    assert "clean_report.json" not in json.dumps(shown)  # per-recording counts would flood `dvc metrics show`
    assert json.loads((repo / "data" / "clean_report.json").read_text())["rows"]["in"] == 3 * 750


def test_damaged_source_reruns_ingest_and_clean_and_counts_the_damage(highd_repo):
    repo, source, _ = highd_repo
    assert "Running stage" not in run(repo, str(BIN_DIR / "dvc"), "repro", "windows")
    lines = read_lines(source / "02_tracks.csv")
    write_lines(source / "02_tracks.csv", lines + [lines[5], "12,3,4"])
    out = run(repo, str(BIN_DIR / "dvc"), "repro", "windows")
    assert "Running stage 'ingest'" in out and "Running stage 'clean'" in out
    assert "Running stage 'windows'" not in out  # the quarantined lines leave the cleaned tracks as they were
    report = json.loads((repo / "data" / "clean_report.json").read_text())
    assert report["quarantined_rows"]["unparsable_line"] == 1 and report["quarantined_rows"]["duplicate_exact"] == 1
    assert report["rows"]["repaired"] == 1
