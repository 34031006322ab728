"""Hydra finds drivelab's research ideas: each `experiments/<idea>/experiment.yaml` is an option of the `experiment`
config group (`drivelab train experiment=<idea>`), beside the options in `conf/experiment/`.

Two small Hydra plugins do it. `IdeasSearchPath` adds the `experiments/` folder that sits beside a drivelab `conf/`
folder to the config search path, whatever the working directory (the DVC pipeline, notebooks and tests compose
from elsewhere). `IdeasConfigSource` maps the option `experiment/<idea>` to the file in the idea's own folder, so an
idea's config lives with its code. This module is imported by Hydra at start-up: it must stay light (no torch).
"""

from __future__ import annotations

import os
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

GROUP = "experiment"
IDEA_CONFIG = "experiment.yaml"  # the file that makes a folder under experiments/ an idea
SCHEME = "drivelab-ideas"


class IdeasConfigSource(ConfigSource):
    """The `experiment` group whose options are the folders of `path` holding an `experiment.yaml`."""

    def __init__(self, provider: str, path: str) -> None:
        if "://" not in path:
            path = f"{SCHEME}://{path}"
        super().__init__(provider=provider, path=path)

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def _idea_file(self, config_path: str) -> Optional[str]:
        group, _, name = self._normalize_file_name(config_path).rpartition("/")
        idea = name[: -len(".yaml")]
        if group != GROUP or not idea or idea.startswith((".", "_")) or "/" in idea:
            return None
        return os.path.join(self.path, idea, IDEA_CONFIG)

    def load_config(self, config_path: str) -> ConfigResult:
        path = self._idea_file(config_path)
        if path is None or not os.path.isfile(path):
            raise ConfigLoadError(f"no idea config for {config_path} under {self.path}")
        with open(path, encoding="utf-8") as stream:
            header = ConfigSource._get_header_dict(stream.read(512))
            stream.seek(0)
            config = OmegaConf.load(stream)
        return ConfigResult(config=config, path=f"{self.scheme()}://{self.path}", provider=self.provider, header=header)

    def available(self) -> bool:
        return os.path.isdir(self.path)

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") in ("", GROUP)

    def is_config(self, config_path: str) -> bool:
        path = self._idea_file(config_path)
        return path is not None and os.path.isfile(path)

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        config_path = config_path.strip("/")
        if config_path == "" and results_filter in (None, ObjectType.GROUP):
            return [GROUP]
        if config_path != GROUP or results_filter not in (None, ObjectType.CONFIG) or not self.available():
            return []
        return sorted(
            entry for entry in os.listdir(self.path)
            if not entry.startswith((".", "_")) and os.path.isfile(os.path.join(self.path, entry, IDEA_CONFIG))
        )


class IdeasSearchPath(SearchPathPlugin):
    """Appends the ideas folder beside a drivelab `conf/` (one holding `train.yaml`) to the search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for element in list(search_path.get_path()):
            path = element.path or ""
            if path.startswith("file://"):
                path = path[len("file://") :]
            if element.provider != "main" or not path or "://" in path:
                continue  # only the primary config folder on disk (a bare path or file://)
            conf_dir = os.path.abspath(path)
            ideas_dir = os.path.join(os.path.dirname(conf_dir), "experiments")
            if os.path.isfile(os.path.join(conf_dir, "train.yaml")) and os.path.isdir(ideas_dir):
                search_path.append(provider="drivelab-experiments", path=f"{SCHEME}://{ideas_dir}")
                return
