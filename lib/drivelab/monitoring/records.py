"""The monitoring files in a run directory, read and written without torch: `health.json` (figures over steps, a
summary and a one-line verdict) and `non_finite.json` (where the NaN guard stopped a run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from drivelab.atomic import write_json

HEALTH_FILE = "health.json"
HEALTH_PLOT = "health.png"
NON_FINITE_FILE = "non_finite.json"
PROFILE_DIR = "profile"


def _read(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_health(run_dir: Path) -> Optional[Dict[str, Any]]:
    """The run's health record, or None when it has none (a physics baseline, a run from before monitoring)."""
    return _read(Path(run_dir) / HEALTH_FILE)


def write_health(run_dir: Path, record: Dict[str, Any]) -> Path:
    path = Path(run_dir) / HEALTH_FILE
    write_json(path, record)
    return path


def read_non_finite(run_dir: Path) -> Optional[Dict[str, Any]]:
    """Where the NaN guard stopped the run (step, batch, windows, first non-finite tensor), or None."""
    return _read(Path(run_dir) / NON_FINITE_FILE)


def write_non_finite(run_dir: Path, record: Dict[str, Any]) -> Path:
    path = Path(run_dir) / NON_FINITE_FILE
    write_json(path, record)
    return path
