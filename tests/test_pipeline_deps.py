"""dvc.yaml declares, for every stage, all the project code its command runs, and no code it never runs: editing
any module a stage imports re-runs that stage, and nothing else."""

import pytest
import yaml

from conftest import PROJECT_ROOT
from drivelab.cli import COMMANDS
from drivelab.config.registry import CONFIGURABLE
from drivelab.data.tracks.sources import SOURCES
from project_imports import closure, module_file

PIPELINE = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
# Stages whose config (or run) names objects to build: they run whatever drivelab object the registry resolves, and ideas.
BUILDS_FROM_CONFIG = ("train", "eval", "export", "gate")


def stage_modules(command: str, cmd: str) -> set:
    roots = ["drivelab.cli", COMMANDS[command].module, COMMANDS[command].preflight.partition(":")[0]]
    if "--params" not in cmd:  # composed by Hydra, which loads drivelab's search-path plugin
        roots.append("hydra_plugins.drivelab_experiments")
    if command in BUILDS_FROM_CONFIG:
        roots += [name.rsplit(".", 1)[0] for name, kind in CONFIGURABLE.items()
                  if name.startswith("drivelab.") and not kind.startswith("hydra")]  # Hydra's own: not under --params
    modules = closure(roots)
    if "drivelab.data.tracks.sources" in modules:  # readers are imported by name, from the registry of formats
        modules = closure([*roots, *(source.module for source in SOURCES.values())])
    return modules


def declared_code(stage: dict) -> list:
    deps = [str(dep) for dep in stage.get("deps", [])]
    return [PROJECT_ROOT / dep for dep in deps if dep.startswith(("lib/", "experiments"))]


def covered(path, deps) -> bool:
    return any(path == dep or dep in path.parents for dep in deps)


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_every_module_a_stage_runs_is_a_declared_dependency(name):
    stage = PIPELINE[name]
    command = stage["cmd"].split()[1]
    deps = declared_code(stage)
    files = {module_file(module) for module in stage_modules(command, stage["cmd"])}
    missing = sorted(str(path.relative_to(PROJECT_ROOT)) for path in files if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {name} runs code it does not depend on: {missing}"


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_no_stage_depends_on_code_it_never_runs(name):
    stage = PIPELINE[name]
    command = stage["cmd"].split()[1]
    files = {module_file(module) for module in stage_modules(command, stage["cmd"])}
    for dep in declared_code(stage):
        if dep.name == "experiments" and command in BUILDS_FROM_CONFIG:
            continue  # ideas are code a config may name
        assert any(covered(path, [dep]) for path in files), f"dvc.yaml stage {name}: {dep} holds nothing it runs"
