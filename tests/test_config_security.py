"""Configs and checkpoints that arrive from elsewhere cannot run code: every route a file-writing target could take
is refused in one line naming the key, before anything is instantiated; checkpoints load weights-only."""

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from conftest import PROJECT_ROOT, drivelab
from drivelab.config.registry import UnsafeTargetError, instantiate, resolve
from drivelab.config.validate import ConfigError, compose

# drivelab.atomic imports shutil, so Hydra's attribute lookup would reach shutil.copyfile through it.
COPY_THROUGH_AN_ALLOWED_MODULE = "drivelab.atomic.shutil.copyfile"


def copy_target(marker: Path) -> dict:
    return {"_target_": COPY_THROUGH_AN_ALLOWED_MODULE, "src": str(PROJECT_ROOT / "README.md"), "dst": str(marker)}


def assert_refused(done, marker: Path, key: str) -> None:
    assert done.returncode == 2, done.stderr
    assert key in done.stderr and "not a configurable object" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not marker.exists()


def test_a_run_directory_config_cannot_write_files_through_eval(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["data"]["augment"] = {"evil": copy_target(tmp_path / "marker")}
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    assert_refused(drivelab("eval", f"run_dir={run}", check=False), tmp_path / "marker", "data.augment.evil._target_")


def test_a_command_line_target_cannot_write_files(tmp_path):
    done = drivelab("train", f"model._target_={COPY_THROUGH_AN_ALLOWED_MODULE}", f"+model.src={PROJECT_ROOT / 'README.md'}",
                    f"+model.dst={tmp_path / 'marker'}", f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2 and "model._target_" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "marker").exists()


def test_resuming_a_run_whose_config_names_an_unregistered_target_is_refused(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["data"]["augment"] = {"evil": copy_target(tmp_path / "marker")}
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    assert_refused(drivelab("train", "resume=auto", f"run_dir={run}", check=False), tmp_path / "marker",
                   "data.augment.evil._target_")


@pytest.mark.parametrize("name", ["params.yaml", "best_config.yaml"])
def test_a_params_file_cannot_write_files(name, tmp_path):
    composed = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    composed["callbacks"]["evil"] = copy_target(tmp_path / "marker")
    (tmp_path / name).write_text(yaml.safe_dump(composed))
    done = drivelab("train", "--params", str(tmp_path / name), "--run-dir", str(tmp_path / "run"), check=False)
    assert_refused(done, tmp_path / "marker", "callbacks.evil._target_")
    assert not (tmp_path / "run").exists()


def test_hydras_own_callbacks_pass_the_registry_too(tmp_path):
    done = drivelab("train", f"+hydra.callbacks.evil._target_={COPY_THROUGH_AN_ALLOWED_MODULE}",
                    f"+hydra.callbacks.evil.src={PROJECT_ROOT / 'README.md'}", f"+hydra.callbacks.evil.dst={tmp_path / 'marker'}",
                    f"paths.runs_dir={tmp_path}", check=False)
    assert_refused(done, tmp_path / "marker", "hydra.callbacks.evil._target_")


def test_overrides_from_a_shared_study_database_are_composed_through_the_same_checks(tmp_path):
    """A sweep worker composes each trial from overrides (some read back from the study database) with `compose`."""
    with pytest.raises(ConfigError, match="model._target_"):
        compose("train", [f"model._target_={COPY_THROUGH_AN_ALLOWED_MODULE}"])


def test_instantiate_refuses_what_the_registry_does_not_name_even_when_called_directly(tmp_path):
    with pytest.raises(UnsafeTargetError):
        instantiate(copy_target(tmp_path / "marker"))
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("name", [
    "experiments.neighbour_attention.model.torch.save",     # a module the idea imports
    "experiments.neighbour_attention.model.last_hidden",    # imported into the idea, not marked
    "experiments.no_such_idea.model.Model",
    "os.system", "builtins.exec", "drivelab.models.mlp.torch.load",
])
def test_only_registered_or_marked_objects_resolve(name):
    with pytest.raises(UnsafeTargetError):
        resolve(name)


def test_a_marked_idea_resolves_to_its_own_class():
    from experiments.neighbour_attention.model import NeighbourAttention

    assert resolve("experiments.neighbour_attention.model.NeighbourAttention") is NeighbourAttention


class WritesOnLoad:
    """A pickle that writes a file when unpickled (a stand-in for any code a checkpoint could carry)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def poisoned_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "payload": WritesOnLoad(marker)}, path, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    return path


def test_a_poisoned_checkpoint_in_a_run_is_refused_before_its_code_runs(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    best = run / yaml.safe_load((run / "manifest.json").read_text())["best_checkpoint"]
    poisoned_checkpoint(best, tmp_path / "marker")
    done = drivelab("eval", f"run_dir={run}", check=False)
    assert done.returncode == 2 and "weights-only" in done.stderr and str(best) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "marker").exists()


def test_resuming_from_a_poisoned_or_remote_checkpoint_is_refused_before_a_run_directory_exists(sim_data_dir, tmp_path):
    checkpoint = poisoned_checkpoint(tmp_path / "evil.ckpt", tmp_path / "marker")
    for path in (checkpoint, "https://example.invalid/model.ckpt"):
        done = drivelab("train", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={tmp_path / 'run'}",
                        f"ckpt_path={path}", check=False)
        assert done.returncode == 2 and "ckpt" in done.stderr.lower(), done.stderr
        assert not (tmp_path / "run" / "manifest.json").exists()
    assert not (tmp_path / "marker").exists()


def test_a_database_password_is_never_printed_or_recorded():
    from drivelab.lineage import mask_secrets
    from drivelab.sweep.study_setup import masked

    url = "postgresql://alice:hunter2@db.internal:5432/studies"
    assert "hunter2" not in masked(url) and "alice" in masked(url)
    assert "hunter2" not in mask_secrets(f"drivelab sweep sweep.storage={url} search=mlp")
