"""The run cache: a finished run is reused when its resolved config, data version and code version equal a new
run's. The key is recorded in the run's manifest (`cache_key`, with its parts under `cache`), so any run directory
under `paths.runs_dir` that holds it serves as a cache entry.

Left out of the key is what does not change a run's result: where things are written (`paths`, the data folder's
path, which the data version replaces), loggers, progress bars, tags, and the data preparation sections (the data
version covers them). The code version is the hash of the model's own source file and of drivelab's library
(`lib/drivelab`, without `commands/`, the top layer that trains nothing itself).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf

from drivelab.lineage import file_md5
from drivelab.runs import Run, find_runs

IGNORED_SECTIONS = ("paths", "logger", "tags", "task_name", "simulate", "source", "clean", "windows", "health",
                    "export", "gate", "compare", "hydra")
IGNORED_KEYS = {"data": ("windows_dir", "num_workers"),
                "trainer": ("enable_progress_bar", "enable_model_summary", "log_every_n_steps", "default_root_dir")}
LIBRARY_DIR = Path(__file__).resolve().parents[1]  # lib/drivelab
TOP_LAYER = "commands"


def result_config(cfg: DictConfig) -> Dict[str, Any]:
    """The part of a resolved training config that decides what a run learns."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    kept = {key: value for key, value in resolved.items() if key not in IGNORED_SECTIONS}
    for section, keys in IGNORED_KEYS.items():
        if isinstance(kept.get(section), dict):
            kept[section] = {key: value for key, value in kept[section].items() if key not in keys}
    return kept


def module_source(target: str) -> Optional[Path]:
    """The source file of the module defining `target` (`package.module.Class`), found without running it."""
    module = target.rsplit(".", 1)[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def library_version(library_dir: Path = LIBRARY_DIR) -> str:
    digest = hashlib.md5()
    for path in sorted(library_dir.rglob("*.py")):
        relative = path.relative_to(library_dir)
        if relative.parts[0] == TOP_LAYER or "__pycache__" in relative.parts:
            continue
        digest.update(relative.as_posix().encode())
        digest.update(file_md5(path).encode())
    return digest.hexdigest()


def code_version(model_target: str, library: Optional[str] = None) -> Dict[str, Optional[str]]:
    """Hashes of the model's source file and of drivelab's library (pass `library` to reuse one computed once)."""
    source = module_source(model_target)
    return {"model": file_md5(source) if source is not None else None, "model_source": str(source) if source else None,
            "drivelab": library if library is not None else library_version()}


def cache_parts(cfg: DictConfig, data_version: str, library: Optional[str] = None) -> Dict[str, Any]:
    config = result_config(cfg)
    config_hash = hashlib.md5(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    code = code_version(str(cfg.model.get("_target_")), library)
    return {"config": config_hash, "data_version": data_version,
            "code": {"model": code["model"], "drivelab": code["drivelab"]}, "model_source": code["model_source"]}


def cache_key(parts: Dict[str, Any]) -> str:
    keyed = {"config": parts["config"], "data_version": parts["data_version"], "code": parts["code"]}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:24]


def finished_runs_by_key(runs_dir: Path) -> Dict[str, List[Run]]:
    """Completed runs under `runs_dir` that recorded a cache key, newest first for each key."""
    found: Dict[str, List[Run]] = {}
    for path in find_runs(runs_dir):
        try:
            run = Run(path)
        except Exception:  # an unreadable folder is no cache entry
            continue
        key = run.manifest.get("cache_key")
        if key and run.status == "completed":
            found.setdefault(key, []).append(run)
    for runs in found.values():
        runs.sort(key=lambda run: str(run.manifest.get("started_at") or ""), reverse=True)
    return found
