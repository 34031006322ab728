"""Where the project's configuration lives: `conf/` beside `lib/`, or DRIVELAB_CONF_DIR."""

from __future__ import annotations

import os
from pathlib import Path

from drivelab.errors import ConfigError


def conf_dir() -> Path:
    """The project's `conf/` folder (found beside `lib/`, so it does not depend on the working directory)."""
    override = os.environ.get("DRIVELAB_CONF_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[3] / "conf"
    if not (path / "train.yaml").is_file():
        raise ConfigError(f"no drivelab configuration at {path} (set DRIVELAB_CONF_DIR to the project's conf/ folder)")
    return path
