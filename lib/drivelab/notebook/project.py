"""Where the project is, and its configuration composed the way the CLI composes it (Hydra's compose API)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Union

from omegaconf import DictConfig

from drivelab.config.validate import compose as compose_checked
from drivelab.config.validate import conf_dir

PathLike = Union[str, Path]


def project_root() -> Path:
    """The checkout holding `conf/` (found from the package, not from the notebook's working directory)."""
    return conf_dir().parent


def path_override(key: str, path: PathLike) -> str:
    """`key=path` in Hydra's override grammar, quoted so spaces and special characters survive."""
    text = str(Path(path).expanduser().resolve())
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"{key}='{escaped}'"


def compose(command: str = "train", overrides: Iterable[str] = (), *, data_dir: Optional[PathLike] = None,
            runs_dir: Optional[PathLike] = None) -> DictConfig:
    """`conf/<command>.yaml` with `overrides`, checked against the schemas, as `drivelab <command>` would see it.

    `paths.root_dir` becomes the project root (so relative paths do not depend on the notebook's folder) unless
    DRIVELAB_ROOT or an override sets it; `data_dir` and `runs_dir`, when given, replace `paths.data_dir` and
    `paths.runs_dir`.
    """
    overrides = list(overrides)
    extra = []
    if not os.environ.get("DRIVELAB_ROOT") and not any(o.lstrip("+~").startswith("paths.root_dir=") for o in overrides):
        extra.append(path_override("paths.root_dir", project_root()))
    if data_dir:
        extra.append(path_override("paths.data_dir", data_dir))
    if runs_dir:
        extra.append(path_override("paths.runs_dir", runs_dir))
    return compose_checked(command, extra + overrides)
