"""A training run's directory: config.yaml, manifest.json, metrics.json, checkpoints/, logs/.

The manifest is the run's lineage and state (`status`: running -> completed | failed), rewritten atomically.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import DictConfig, OmegaConf

from drivelab import lineage
from drivelab.atomic import write_json, write_text
from drivelab.errors import MissingInputError

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
GIT_DIFF_FILE = "git.diff"


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self.checkpoints = self.path / "checkpoints"
        self.logs = self.path / "logs"

    def start(self, cfg: DictConfig, data_version: Optional[str], code_dir: Path) -> Dict[str, Any]:
        """Record config and lineage before anything is trained."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        write_text(self.path / CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))
        git = lineage.git_state(code_dir)
        diff = git.pop("git_diff")
        if diff:
            write_text(self.path / GIT_DIFF_FILE, diff)
        manifest = {
            "run_dir": str(self.path),
            "status": "running",
            "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "started_at": lineage.now_iso(),
            "finished_at": None,
            **git,
            "data_version": data_version,
            "windows_dir": str(Path(cfg.data.windows_dir).resolve()),
            "seed": int(cfg.seed),
            "model": cfg.model.get("_target_"),
            "best_checkpoint": None,
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
        return json.loads((self.path / METRICS_FILE).read_text())
