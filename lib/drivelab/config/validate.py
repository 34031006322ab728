"""Compose and check a command's configuration before anything heavy is imported or written.

Every failure becomes a `ConfigError` with one readable line naming the key (and, for a config group, its options).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, List, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drivelab.config import schema
from drivelab.errors import DrivelabError
from drivelab.config.targets import UnsafeTargetError, check_targets


class ConfigError(DrivelabError, ValueError):
    """A configuration problem, explained in one line."""


def conf_dir() -> Path:
    """The project's `conf/` folder (found beside `lib/`, so it does not depend on the working directory)."""
    import os

    override = os.environ.get("DRIVELAB_CONF_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[3] / "conf"
    if not (path / "train.yaml").is_file():
        raise ConfigError(f"no drivelab configuration at {path} (set DRIVELAB_CONF_DIR to the project's conf/ folder)")
    return path


def compose(command: str, overrides: Iterable[str] = ()) -> DictConfig:
    """Compose `conf/<command>.yaml` with Hydra's compose API, then check it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = list(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(conf_dir()), version_base=None):
            cfg = hydra_compose(config_name=command, overrides=overrides)
    except Exception as exc:  # Hydra and OmegaConf raise many types; all become one line
        raise ConfigError(describe(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    return check(command, cfg)


def check(command: str, cfg: DictConfig) -> DictConfig:
    """Merge `cfg` over the command's schema; reject unknown keys, wrong types, missing values, unsafe targets."""
    command_schema = schema.COMMAND_SCHEMAS[command]
    raw = OmegaConf.to_container(cfg, resolve=False)
    if not isinstance(raw, dict):
        raise ConfigError("the configuration is not a mapping")
    raw.pop("hydra", None)
    known = {f.name for f in dataclasses.fields(command_schema)}
    # A composed config from DVC (params.yaml) holds every section; a command takes the ones it knows.
    raw = {key: value for key, value in raw.items() if key in known}
    try:
        typed = OmegaConf.merge(OmegaConf.structured(command_schema), raw)
        if "model" in typed and isinstance(typed.model, DictConfig):
            model_schema = schema.MODEL_SCHEMAS.get(typed.model.get("_target_"))
            if model_schema is not None:
                try:
                    typed.model = OmegaConf.merge(OmegaConf.structured(model_schema), typed.model)
                except OmegaConfBaseException as exc:
                    exc.full_key = f"model.{getattr(exc, 'full_key', '')}".rstrip(".")
                    raise
        missing = sorted(OmegaConf.missing_keys(typed))
        if missing:
            raise ConfigError(f"missing required value: {missing[0]} (set it on the command line, e.g. {missing[0]}=...)")
        resolved = OmegaConf.to_container(typed, resolve=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(describe(exc)) from None
    try:
        check_targets(resolved)
    except UnsafeTargetError as exc:
        raise ConfigError(str(exc)) from None
    OmegaConf.set_struct(typed, True)
    return typed


def validate_sweep(command: str, overrides: List[str]) -> None:
    """Check every value of every swept key (`model=mlp,gru`, `glob(*)`) before the first job starts."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(conf_dir()), version_base=None):
            loader = GlobalHydra.instance().config_loader()
            parsed = OverridesParser.create(config_loader=loader).parse_overrides(overrides)
    except Exception as exc:
        raise ConfigError(describe(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    base: List[str] = []
    alternatives: List[tuple[int, List[str]]] = []
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override() and override.is_discrete_sweep():
            values = [f"{key}={value}" for value in override.sweep_string_iterator()]
            if not values:
                raise ConfigError(f"the sweep over {key} has no values")
            alternatives.append((len(base), values))
            base.append(values[0])
        elif override.is_sweep_override():
            continue  # intervals are for a search sweeper; it checks them itself
        else:
            base.append(override.input_line)
    compose(command, base)
    for position, values in alternatives:
        for value in values[1:]:
            compose(command, base[:position] + [value] + base[position + 1 :])


def describe(exc: BaseException) -> str:
    """One line from Hydra's and OmegaConf's multi-line errors."""
    from hydra.errors import MissingConfigException

    if isinstance(exc, ConfigError):
        return str(exc)
    chain: List[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for error in chain:
        if isinstance(error, MissingConfigException):
            missing = error.missing_cfg_file or ""
            if error.options is not None and "/" in missing:
                group_name, name = missing.rsplit("/", 1)
                choices = ", ".join(sorted(error.options)) or "(none)"
                return f"'{name}' is not an option of config group '{group_name}'; choose one of: {choices}"
            return str(error).split("\n")[0]
    for error in chain:
        if isinstance(error, OmegaConfBaseException):
            return _omegaconf_line(error)
    return " ".join(str(exc).split("\n")[0:1]).strip() or type(exc).__name__


def _omegaconf_line(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    first = str(error).split("\n")[0].strip()
    name = type(error).__name__
    if name in ("ConfigKeyError", "ConfigAttributeError") and key:
        parent = key.rsplit(".", 1)[0] if "." in key else "the top level"
        return f"unknown key '{key}': {parent} has no such setting (check the spelling)"
    if name == "ValidationError" and key:
        return f"wrong type for '{key}': {first}"
    if key:
        return f"{key}: {first}"
    return first
