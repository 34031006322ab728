"""Window settings for tests: conf/windows/default.yaml (the one place their defaults are declared), with changes."""

from __future__ import annotations

from omegaconf import OmegaConf

from drivelab.config.validate import conf_dir
from drivelab.data.windows.spec import WindowSpec


def default_spec(**changes) -> WindowSpec:
    settings = OmegaConf.to_container(OmegaConf.load(conf_dir() / "windows" / "default.yaml"))
    return WindowSpec.from_config({**settings, **changes})
