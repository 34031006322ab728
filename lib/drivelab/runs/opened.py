"""A finished (or running, or failed) run directory opened as an object: what it recorded, and its model and data
rebuilt the way it was trained.

Reading a run is cheap and imports no torch (listing hundreds of runs in a notebook stays fast); building its model
or data module imports what they need. A run's config is untrusted input (run directories travel between machines):
`config` re-validates it against today's schemas and every target passes the registry before anything is built,
and checkpoints load weights-only.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml
from omegaconf import DictConfig, OmegaConf

from drivelab.errors import DrivelabError, MissingInputError
from drivelab.runs import liveness
from drivelab.runs.directory import CONFIG_FILE, MANIFEST_FILE, RunDirectory

PathLike = Union[str, Path]
SKIPPED_DIRS = {"checkpoints", "logs", "wandb", ".hydra", "__pycache__", "export"}  # parts of a run, never runs
WINDOWS_INFO = "windows.json"


class Run:
    """One run directory: `manifest`, `metrics`, `saved_config` (as written), `overrides` are read at once;
    `config`, `model()`, `datamodule()` and `test()` rebuild what the run trained."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path).expanduser().resolve()
        self.directory = RunDirectory(self.path)
        self.manifest: Dict[str, Any] = self.directory.manifest()  # raises naming the folder if it is no run
        config_path = self.path / CONFIG_FILE
        self.saved_config: Dict[str, Any] = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
        self.metrics: Dict[str, float] = self.directory.metrics()
        overrides_path = self.path / ".hydra" / "overrides.yaml"
        self.overrides: List[str] = list(yaml.safe_load(overrides_path.read_text()) or []) \
            if overrides_path.is_file() else []

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {self.label}, {self.status})"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        """The model's class name: how tables name the run."""
        target = self.manifest.get("model") or (self.saved_config.get("model") or {}).get("_target_") or "?"
        return str(target).rsplit(".", 1)[-1]

    @property
    def status(self) -> str:
        """running, completed, failed, interrupted, pruned, or killed (its process died without a word)."""
        return liveness.observed_status(self.manifest, self.path)

    @property
    def data_version(self) -> Optional[str]:
        return self.manifest.get("data_version")

    @property
    def best_checkpoint(self) -> Optional[Path]:
        relative = self.manifest.get("best_checkpoint")
        return self.path / relative if relative else None

    @cached_property
    def config(self) -> DictConfig:
        """The run's training config, re-validated (schemas, registry), with its windows folder found again when the
        recorded path was relative to another working directory."""
        from drivelab.config.validate import check

        saved = {"fault": {"nan_at_step": None}, **self.saved_config}  # runs recorded before fault injection
        # How a run was started is not part of it (runs recorded before these settings existed lack them).
        saved.update(resume=None, run_dir=None)
        saved.setdefault("lock_timeout_s", 600)
        config = check("train", OmegaConf.create(saved))
        windows_dir = Path(config.data.windows_dir)
        if not windows_dir.is_absolute() and not windows_dir.exists() and self.manifest.get("windows_dir"):
            config.data.windows_dir = str(self.manifest["windows_dir"])
        return config

    def windows_dir(self, data_dir: Optional[PathLike] = None) -> Path:
        """The windows the run used, or those of `data_dir` (a data folder holding windows/, or a windows folder)."""
        if data_dir is None:
            return Path(self.config.data.windows_dir)
        data_dir = Path(data_dir).expanduser()
        return data_dir if (data_dir / WINDOWS_INFO).is_file() else data_dir / "windows"

    def config_for(self, data_dir: Optional[PathLike] = None) -> DictConfig:
        """The run's config pointed at another data version (same model, same batches, other windows); refused in
        one line when that data version's windows are cut differently from the run's."""
        config = self.config.copy()
        config.data.windows_dir = str(self.windows_dir(data_dir))
        if data_dir is not None:
            self.check_window_spec(Path(config.data.windows_dir))
        return config

    def check_window_spec(self, windows_dir: Path) -> None:
        from drivelab.data.windows.spec import differing_settings

        trained = self.saved_config.get("windows")
        info_path = Path(windows_dir) / WINDOWS_INFO
        if not trained or not info_path.is_file():
            return  # nothing recorded to compare (a run from before specs were recorded, or no windows: fails later)
        differences = differing_settings(trained, json.loads(info_path.read_text()).get("spec") or {})
        if differences:
            raise DrivelabError(f"{windows_dir} was built with other window settings than run {self.name} "
                                f"({'; '.join(differences)}); rebuild it with the run's settings "
                                "(drivelab prepare windows.<setting>=...)")

    def datamodule(self, data_dir: Optional[PathLike] = None) -> Any:
        from drivelab.config.registry import instantiate

        return instantiate(self.config_for(data_dir).data)

    def model(self, data_dir: Optional[PathLike] = None) -> Any:
        """The run's model with its best checkpoint's weights (weights-only), in eval mode. Window shapes and feature
        scales come from the checkpoint (what the model was trained with); a model without weights (a physics
        baseline) takes them from the run's windows or `data_dir`'s."""
        from drivelab.checkpoints import load_weights, saved_hyperparameters
        from drivelab.runs.builder import build_model

        checkpoint = self.checked_checkpoint()
        if checkpoint is not None:
            shapes = saved_hyperparameters(checkpoint)["shapes"]
        else:
            shapes = self.datamodule(data_dir).shapes
        model = build_model(self.config.model, shapes)
        if checkpoint is not None:
            load_weights(model, checkpoint)
        return model.eval()

    def checked_checkpoint(self) -> Optional[Path]:
        checkpoint = self.best_checkpoint
        if checkpoint is not None and not checkpoint.is_file():
            raise MissingInputError(f"checkpoint {checkpoint} (manifest.json best_checkpoint) not found in {self.path}")
        return checkpoint

    def test(self, data_dir: Optional[PathLike] = None,
             test_splits: Sequence[str] = ("test",)) -> Tuple[Dict[str, float], Any, Any]:
        """The run's test procedure on its own windows (or `data_dir`'s, every split of it with
        `test_splits=store.SPLITS`): (test metrics, model, data module)."""
        from drivelab.runs.builder import test

        return test(self.config_for(data_dir), self.checked_checkpoint(), test_splits=test_splits)

    def epochs(self) -> Any:
        """Per-epoch training and validation metrics from the run's CSV logs (a pandas DataFrame)."""
        from drivelab.runs.logs import epoch_table

        return epoch_table(self.path)


def open_run(path: PathLike) -> Run:
    return path if isinstance(path, Run) else Run(path)


def find_runs(runs_dir: PathLike) -> List[Path]:
    """Every run directory (one holding manifest.json) under `runs_dir`, at any depth, sorted by path; none when
    `runs_dir` does not exist yet."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    found = []
    for folder, subfolders, files in os.walk(runs_dir):
        if MANIFEST_FILE in files:
            found.append(Path(folder))
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_DIRS and not d.startswith("."))
    return sorted(found)


def newest_run(runs_dir: PathLike, fallback: Optional[PathLike] = None) -> Run:
    """The most recently started completed run under `runs_dir` that trained a model (else the most recent
    completed one, e.g. a physics baseline); else the run at `fallback` (e.g. the pipeline's models/train)."""
    completed = [run for run in map(Run, find_runs(runs_dir)) if run.status == "completed"]
    if completed:
        return max(completed, key=lambda run: (run.best_checkpoint is not None,
                                               str(run.manifest.get("started_at") or ""), str(run.path)))
    if fallback is not None and (Path(fallback) / MANIFEST_FILE).is_file():
        return Run(fallback)
    raise MissingInputError(f"no completed run under {Path(runs_dir).expanduser().resolve()}"
                            + (f" and none at {fallback}" if fallback is not None else "")
                            + "; train one (`drivelab train`) or name a run directory")

