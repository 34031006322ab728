"""Compose every option of every config group with the command that reads it, and validate it the way a run does.

One Hydra initialisation serves every composition (each then costs milliseconds, not a fresh start), and the
options are Hydra's own list, so ideas under experiments/ (found through drivelab's search-path plugin) count too.
"""

from __future__ import annotations

from typing import List, Tuple

from omegaconf import open_dict

from drivelab.config.validate import check, check_hydra_targets, conf_dir, describe

# The command whose root config composes each group, and groups that only that command reads.
GROUP_COMMANDS = {"search": "sweep", "source": "prepare", "gate": "gate", "export": "export", "health": "health",
                  "simulate": "simulate"}
ROOT_CONFIGS = ("train", "eval", "sweep", "prepare", "simulate", "health", "export", "gate")
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
            jobs = [(name, []) for name in ROOT_CONFIGS]
            for group in sorted(_groups(loader)):
                if group.split("/")[0] in SKIPPED_GROUPS:
                    continue
                command = GROUP_COMMANDS.get(group, "train")
                jobs += [(command, [f"{group}={option}"]) for option in loader.get_group_options(group)]
            for command, overrides in jobs:
                checked += 1
                try:
                    cfg = compose(config_name=command, overrides=overrides, return_hydra_config=True)
                    check_hydra_targets(cfg)
                    with open_dict(cfg):
                        cfg.pop("hydra")
                    check(command, cfg)
                except Exception as exc:
                    if describe(exc).startswith("missing required value"):
                        continue  # an option that asks for a value (source.path=...) is complete as designed
                    label = " ".join(overrides) or f"conf/{command}.yaml"
                    failures.append(f"{command} {label}: {describe(exc)}")
    finally:
        GlobalHydra.instance().clear()
    return checked, failures


def _groups(loader) -> List[str]:
    """Config groups (top level) that hold options."""
    return [name for name in loader.list_groups("") if loader.get_group_options(name)]
