"""README.md as a newcomer follows it: every command in its `bash` blocks runs, top to bottom, in a fresh clone of
the project (the committed tree), at tiny sizes, and prints nothing a user cannot act on.

The substitutions, all listed here:
- `make setup` and `source .venv/bin/activate` are already done: the commands run with this environment's `.venv`
  on the PATH, and the clone's own `lib/` first on PYTHONPATH, so the clone's code and `conf/` are what runs;
- `make demo` runs `drivelab demo` with TINY_PIPELINE (4 short episodes, one short epoch) up to the `evaluate`
  stage: the README runs `health`, `export` and `gate` itself further down;
- `drivelab train`, `sweep` and `compare` get TINY_TRAINING appended (one epoch of a few batches, CSV logging),
  `sweep` two trials, `compare` one seed against constant velocity, `simulate` 4 episodes of 20 s;
- placeholder run directories (`runs/A`, `runs/...`, `runs/2026-...`) become runs the earlier commands made, and
  the frozen data tag `eval-v1` becomes `workspace` (the clone's own dvc.lock);
- `data diff`, `gate` and `doctor` may exit 1, their documented answer ("a feature shifted", "rejected", "a check
  failed"); `promote` may refuse a model its gate rejects (exit 1; a one-epoch model is rejected, nothing is
  registered).
Commands marked `[needs: ...]` in the README are skipped by that mark; SKIPPED lists the rest, by name.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import BIN_DIR, PROJECT_ROOT, cli_env
from drivelab.commands.demo import EXP_SHOW
from drivelab.console import NOISE

pytestmark = pytest.mark.slow

README = PROJECT_ROOT / "README.md"
NEEDS = re.compile(r"\[needs: ([^\]]+)\]")
TERMINAL_COLUMNS = 120

# Not run here, by name, and why.
SKIPPED: Dict[str, str] = {
    "make test": "the test suite itself (it runs this file)",
    "make lab": "a server that runs until stopped (tests/test_jupyterlab_server.py starts it)",
    "make bench": "minutes of measuring (tests/test_benchmark_suite.py tests the suite's logic)",
}
ALREADY_DONE = ("make setup", "source .venv/bin/activate")
TINY_PIPELINE = ["evaluate", "-S", "simulate.episodes=4", "-S", "simulate.duration_s=20", "-S", "trainer.max_epochs=1",
                 "-S", "trainer.limit_train_batches=3", "-S", "trainer.limit_val_batches=1"]
TINY_TRAINING = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
                 "trainer.limit_test_batches=2", "logger=csv"]
TINY_SIMULATION = ["simulate.episodes=4", "simulate.duration_s=20"]
ANSWERS_WITH_EXIT_1 = (("data", "diff"), ("gate",), ("doctor",))
# Documented answers, not broken commands: the README's promotion may meet a gate that says no, and its resume
# examples meet runs that finished (nothing here is interrupted).
REFUSALS = {"promote": ("the gate rejected",),
            "train": ("has already completed; nothing to resume", "no interrupted, killed or failed run")}
TINY_COMPARISON = ["compare.baselines=[cv]", "compare.seeds=1", "compare.bootstrap_samples=100"]
PLACEHOLDER_RUN = re.compile(r"runs/(A|B|\.\.\.|\d{4}-\d\d-\d\d/[\w-]+)")


def split_comment(line: str) -> Tuple[str, str]:
    """`command  # comment` -> (command, comment); a `#` inside quotes belongs to the command."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip(), line[index + 1:].strip()
    return line.strip(), ""


def readme_commands() -> List[Tuple[str, str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            command, comment = split_comment(line)
            if command:
                commands.append((command, comment))
    return commands


COMMANDS = readme_commands()


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Dict[str, object]:
    root = tmp_path_factory.mktemp("readme") / "drivelab"
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(root)], check=True, timeout=120)
    env = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                  PYTHONPATH=str(root / "lib"))
    env.pop("WANDB_SILENT", None)  # drivelab must keep W&B quiet itself
    return {"root": root, "env": env, "placeholders": {}}


def finished_runs(root: Path) -> List[Path]:
    """Completed runs with a checkpoint under the clone's runs/, oldest first (trials of a sweep included)."""
    found = []
    for manifest_file in (root / "runs").rglob("manifest.json"):
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("status") == "completed" and manifest.get("best_checkpoint") \
                and "intention" not in str(manifest.get("model")):
            found.append((manifest["started_at"], manifest_file.parent))
    return [path for _, path in sorted(found)]


def substitute(words: List[str], state: Dict[str, object]) -> List[str]:
    root: Path = state["root"]  # type: ignore[assignment]
    placeholders: Dict[str, str] = state["placeholders"]  # type: ignore[assignment]

    def real_run(match: re.Match) -> str:
        if match.group(0) not in placeholders:
            taken = set(placeholders.values())
            candidates = [str(path) for path in reversed(finished_runs(root)) if str(path) not in taken]
            assert candidates, f"no finished run left for {match.group(0)}; the README trains one earlier"
            placeholders[match.group(0)] = candidates[0]
        return placeholders[match.group(0)]

    words = [PLACEHOLDER_RUN.sub(real_run, word) if "run_dir" in word else word for word in words]
    words = ["gate.data.revision=workspace" if word.startswith("gate.data.revision=") else word for word in words]
    if words[:2] == ["make", "demo"]:
        return [str(BIN_DIR / "drivelab"), "demo", *TINY_PIPELINE]
    if words[0] == "drivelab":
        command = next((word for word in words[1:] if not word.startswith("-")), "")
        words = [str(BIN_DIR / "drivelab"), *words[1:]]
        if command == "simulate":
            words = [word for word in words if not word.startswith("simulate.episodes=")] + TINY_SIMULATION
        if command in ("train", "sweep", "compare"):
            words += TINY_TRAINING
        if command == "compare":
            words += TINY_COMPARISON
        if command == "sweep":
            words += ["search.n_trials=2"]
    elif words[0] == "dvc":
        words = [str(BIN_DIR / "dvc"), *words[1:]]
    return words


@pytest.mark.parametrize("command,comment", COMMANDS, ids=[f"{i:02d} {c[:50]}" for i, (c, _) in enumerate(COMMANDS)])
def test_readme_command_runs(command, comment, clone):
    needs = NEEDS.search(comment)
    if needs:
        pytest.skip(f"needs {needs.group(1)}")
    name = next((name for name in SKIPPED if command.startswith(name)), None)
    if name:
        pytest.skip(SKIPPED[name])
    if command in ALREADY_DONE:
        return
    words = substitute(shlex.split(command), clone)
    env = dict(clone["env"])  # type: ignore[arg-type]
    env["COLUMNS"] = "400"  # tables at their natural width, so that their width can be measured
    done = subprocess.run(words, cwd=clone["root"], env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    allowed = {0, 1} if any(tuple(words[1:1 + len(answer)]) == answer for answer in ANSWERS_WITH_EXIT_1) else {0}
    refused = done.returncode in (1, 2) and any(
        answer in done.stderr for answer in REFUSALS.get(words[1] if len(words) > 1 else "", ()))
    assert done.returncode in allowed or refused, f"{' '.join(words)} exited {done.returncode}\n{output[-4000:]}"
    noise = [line for line in output.splitlines() if NOISE.search(line)]
    assert not noise, f"{command} printed lines nobody can act on: {noise[:3]}"
    if command.startswith("make demo"):
        assert "No file hash info found" not in output and "Please be careful with folders" not in output
        assert "RMSE@5s ratio" in done.stdout and "next:" in done.stdout and EXP_SHOW in done.stdout
    if command.startswith("dvc exp show"):
        widest = max(len(line.rstrip()) for line in done.stdout.splitlines())
        assert widest <= TERMINAL_COLUMNS, f"`{command}` is {widest} columns wide:\n{done.stdout}"
        assert "test/rmse_5s" in done.stdout and "model._target_" in done.stdout


def test_the_readme_shows_the_comparison_the_demo_recommends():
    assert EXP_SHOW in README.read_text()
    assert any(command == EXP_SHOW for command, _ in COMMANDS)  # so it is run, and its width measured, above


def test_readme_commands_are_found_with_their_marks():
    commands = dict(COMMANDS)
    assert "make demo" in commands and "drivelab --help" in commands
    assert any("slurm" in command and NEEDS.search(comment) for command, comment in COMMANDS)
    assert split_comment("dvc exp show --keep 'a#b'  # note") == ("dvc exp show --keep 'a#b'", "note")
