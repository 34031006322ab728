"""`drivelab runs` and `drivelab doctor` through the real CLI: a dead run's process makes it killed, doctor passes a
healthy DVC project, catches a DVC-tracked file modified outside DVC, and explains a killed run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import BIN_DIR, cli_env, drivelab, read_json, run_in_repo


def dead_pid() -> int:
    """The id of a process that has finished (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


@pytest.fixture
def killed_run(trained_run, tmp_path):
    """A copy of a real run whose manifest still says running but whose process is gone (as after kill -9)."""
    run_dir = tmp_path / "runs" / "killed"
    shutil.copytree(trained_run, run_dir)
    manifest = read_json(run_dir / "manifest.json")
    manifest.update(status="running", finished_at=None, pid=dead_pid())
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory):
    """A git + DVC project with one DVC-tracked file, everything committed."""
    repo = tmp_path_factory.mktemp("doctor_project")
    (repo / "data").mkdir()
    (repo / "data" / "table.csv").write_text("a,b\n1,2\n")
    run_in_repo(repo, "git", "init", "-q")
    run_in_repo(repo, str(BIN_DIR / "dvc"), "init", "-q")
    run_in_repo(repo, str(BIN_DIR / "dvc"), "add", "-q", "data/table.csv")
    run_in_repo(repo, "git", "add", "-A")
    run_in_repo(repo, "git", "commit", "-qm", "data")
    return repo


def doctor(*args, root):
    return drivelab("doctor", *args, check=False, env=cli_env(DRIVELAB_ROOT=str(root)))


def test_runs_lists_a_run_whose_process_died_as_killed(killed_run, trained_run):
    listed = json.loads(drivelab("runs", str(killed_run.parent), str(trained_run), "--json").stdout)
    by_name = {row["run"]: row for row in listed}
    assert by_name["killed"]["status"] == "killed"
    assert by_name[trained_run.name]["status"] == "completed"
    assert by_name[trained_run.name]["metrics"]["test/rmse_5s"] > 0
    assert by_name[trained_run.name]["verdict"]
    text = drivelab("runs", str(killed_run.parent), "status=killed").stdout
    assert "killed: its process is gone" in text and "ResidualMLP" in text
    assert drivelab("runs", str(killed_run.parent), "status=completed").stdout.strip() == "no runs"


def test_doctor_passes_a_healthy_project(dvc_project):
    done = doctor("checks=python,torch,dvc,wandb,disk", root=dvc_project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every DVC-tracked file matches its record" in done.stdout
    assert "package pins" in done.stdout and "torch threads" in done.stdout
    assert done.stdout.rstrip().endswith("healthy")


def test_doctor_fails_on_a_dvc_tracked_file_modified_outside_dvc(dvc_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(dvc_project, project)
    (project / "data" / "table.csv").write_text("a,b\n1,3\n")
    done = doctor("checks=dvc", "--json", root=project)
    assert done.returncode == 1
    rows = {row["check"]: row for row in json.loads(done.stdout)["environment"]}
    assert rows["dvc tracked files"]["status"] == "fail"
    assert "data/table.csv" in rows["dvc tracked files"]["found"]
    assert "dvc checkout" in rows["dvc tracked files"]["fix"]


def test_doctor_explains_a_killed_run_and_exits_non_zero(killed_run, dvc_project):
    done = doctor(f"run_dir={killed_run}", root=dvc_project)
    assert done.returncode == 1
    assert "KILL" not in done.stdout  # statuses are ok/warn/fail
    killed_line = next(line for line in done.stdout.splitlines() if " killed " in f" {line} ")
    assert "no clean finish" in killed_line and ("kernel log" in killed_line or "OOM killer" in killed_line)


def test_every_shipped_config_option_composes_and_validates():
    from drivelab.doctor.config_options import check_every_option

    checked, failures = check_every_option()
    assert checked > 40 and failures == []


def test_listing_runs_imports_no_torch(killed_run):
    probe = ("import sys\nfrom drivelab.cli import main\n"
             f"main(['runs', {str(killed_run.parent)!r}])\n"
             "print('HEAVY', sorted(m for m in ('torch', 'pytorch_lightning', 'wandb') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env())
    assert "killed" in done.stdout and "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_oom_killer_lines_are_found_for_the_run_process_only():
    from drivelab.doctor.run_report import oom_lines

    log = ("[  9.1] oom-kill:constraint=CONSTRAINT_NONE,task=python,pid=4242,uid=0\n"
           "[  9.2] Out of memory: Killed process 4242 (python) total-vm:9000kB, anon-rss:8000kB\n"
           "[  9.3] Out of memory: Killed process 42 (other) total-vm:10kB\n")
    assert len(oom_lines(log, 4242)) == 2
    assert oom_lines(log, 424) == [] and oom_lines(log, None) == []
