"""Compose every option of every config group with the command that reads it, and validate it the way a run does.

One Hydra initialisation serves every composition (each then costs milliseconds, not a fresh start), and the
options are Hydra's own list, so ideas under experiments/ (found through drivelab's search-path plugin) count too.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from omegaconf import open_dict

from drivelab.config.schema import COMMAND_SCHEMAS
from drivelab.config.validate import check, check_hydra_targets, conf_dir, describe

PREFERRED_ROOT = "train"  # a group several root configs compose is checked with this one's tree
SKIPPED_GROUPS = ("hydra", "local", "paths")  # Hydra's own options, machine-local settings, the one paths option


def check_every_option() -> Tuple[int, List[str]]:
    """(options checked, one line per failure naming the option and the error)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    failures: List[str] = []
    checked = 0
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(conf_dir()), version_base=None):
            loader = GlobalHydra.instance().config_loader()
            roots = sorted(loader.get_group_options(""), key=lambda name: (name != PREFERRED_ROOT, name))
            jobs: List[Tuple[str, List[str]]] = [(root, []) for root in roots]
            owner: Dict[str, str] = {}  # each group, checked with the first root config that composes it
            for root in roots:
                try:
                    choices = compose(config_name=root, return_hydra_config=True).hydra.runtime.choices
                except Exception:
                    continue  # reported when the root itself is checked below
                for group in choices:
                    owner.setdefault(str(group), root)
            for group, root in sorted(owner.items()):
                if group.split("/")[0] in SKIPPED_GROUPS:
                    continue
                jobs += [(root, [f"{group}={option}"]) for option in loader.get_group_options(group)]
            for command, overrides in jobs:
                checked += 1
                try:
                    cfg = compose(config_name=command, overrides=overrides, return_hydra_config=True)
                    check_hydra_targets(cfg)
                    with open_dict(cfg):
                        cfg.pop("hydra")
                    if command in COMMAND_SCHEMAS:  # a root config without a schema is checked by composing it
                        check(command, cfg)
                except Exception as exc:
                    if describe(exc).startswith("missing required value"):
                        continue  # an option that asks for a value (source.path=...) is complete as designed
                    label = " ".join(overrides) or f"conf/{command}.yaml"
                    failures.append(f"{command} {label}: {describe(exc)}")
    finally:
        GlobalHydra.instance().clear()
    return checked, failures

