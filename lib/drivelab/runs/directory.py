"""A run directory's files, written side: config.yaml, manifest.json, metrics.json, checkpoints/, logs/.

The manifest is the run's lineage and state (`status`: running -> completed | failed), rewritten atomically.
"""

from __future__ import annotations

import json
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import DictConfig, OmegaConf

from drivelab import lineage
from drivelab.atomic import write_json, write_text
from drivelab.runs import liveness
from drivelab.errors import MissingInputError

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
GIT_DIFF_FILE = "git.diff"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"


def new_tracking_id() -> str:
    """A W&B run id: random, so that runs written to one fixed directory (the pipeline's) never merge on sync."""
    return secrets.token_hex(4)


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self.checkpoints = self.path / CHECKPOINTS_DIR
        self.logs = self.path / LOGS_DIR

    def start(self, cfg: DictConfig, data: Dict[str, Any], code_dir: Path) -> Dict[str, Any]:
        """Record config and lineage before anything is trained. `data` is the data version trained on: its hash
        (`version`), folder (`windows_dir`) and the window settings it was built with (`spec`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)  # a declared DVC output, so it exists even for a model without weights
        resolved = OmegaConf.to_container(cfg, resolve=True)
        # The data settings really used are the data version's, whatever conf/ says today.
        resolved["windows"] = data.get("spec")
        write_text(self.path / CONFIG_FILE, OmegaConf.to_yaml(resolved))
        git = lineage.git_state(code_dir)
        write_text(self.path / GIT_DIFF_FILE, git.pop("git_diff"))  # empty for a clean checkout
        manifest = {
            "run_dir": str(self.path),
            "status": "running",
            "command": lineage.mask_secrets(shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])),
            "started_at": lineage.now_iso(),
            "finished_at": None,
            **git,
            "data_version": data.get("version"),
            "windows_dir": str(Path(data["windows_dir"]).resolve()),
            "seed": int(cfg.seed),
            "model": cfg.model.get("_target_"),
            "best_checkpoint": None,
            "tracking_id": new_tracking_id(),
            **liveness.identity(),
            **lineage.environment(),
        }
        self.write_manifest(manifest)
        return manifest

    def manifest(self) -> Dict[str, Any]:
        path = self.path / MANIFEST_FILE
        if not path.is_file():
            raise MissingInputError(f"{path} not found: {self.path} is not a drivelab run directory")
        return json.loads(path.read_text())

    def config(self) -> DictConfig:
        path = self.path / CONFIG_FILE
        if not path.is_file():
            raise MissingInputError(f"{path} not found: {self.path} is not a drivelab run directory")
        return OmegaConf.load(path)

    def write_manifest(self, manifest: Dict[str, Any]) -> None:
        write_json(self.path / MANIFEST_FILE, manifest)

    def update_manifest(self, **changes: Any) -> None:
        manifest = self.manifest()
        manifest.update(changes)
        self.write_manifest(manifest)

    def write_metrics(self, metrics: Dict[str, float]) -> None:
        write_json(self.path / METRICS_FILE, metrics)

    def metrics(self) -> Dict[str, float]:
        path = self.path / METRICS_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def tracking_id(self) -> Optional[str]:
        return self.manifest().get("tracking_id")
