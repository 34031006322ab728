"""The CI workflow for models: valid for GitHub Actions (actionlint), and running what the README says it runs."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_ROOT
from drivelab.config.validate import compose

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "models.yml"


def actionlint() -> str:
    found = Path(sys.executable).with_name("actionlint")
    return str(found) if found.is_file() else (shutil.which("actionlint") or pytest.fail("actionlint is not installed "
                                                                                         "(the dev extra installs it)"))


def test_the_workflow_passes_actionlint():
    done = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.event.no_such_thing.foo }\n")
    done = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


def steps(job: str) -> str:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return "\n".join(str(step.get("run", "")) for step in workflow["jobs"][job]["steps"])


def test_pull_requests_run_the_tests_then_train_export_and_gate_a_tiny_model():
    commands = steps("pull-request")
    order = [commands.index(text) for text in ("make test", "drivelab train", "drivelab export", "drivelab gate")]
    assert order == sorted(order)
    assert compose("gate", ["gate=tiny"]).gate.baseline.min_improvement == 0.0  # the option the workflow names


def test_main_runs_the_full_pipeline_and_the_promotion_gate():
    commands = steps("main")
    assert "dvc exp run" in commands and "drivelab gate run_dir=models/train" in commands
