"""Compose and check a command's configuration before anything heavy is imported or written.

Every failure becomes a `ConfigError` with one readable line naming the key (and, for a config group, its options).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, List, Optional

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from drivelab.config import schema
from drivelab.config.generated import MODEL_SCHEMAS
from drivelab.config.registry import UnsafeTargetError, check_targets
from drivelab.config.location import conf_dir  # noqa: F401  (imported from here by many)
from drivelab.errors import ConfigError

# Commands that run on windows already built: data preparation settings would change nothing there.
RUNS_ON_BUILT_WINDOWS = ("train", "eval", "sweep")


def compose(command: str, overrides: Iterable[str] = ()) -> DictConfig:
    """Compose `conf/<command>.yaml` with Hydra's compose API, then check it (Hydra's own section included)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = list(overrides)
    refuse_data_overrides(command, overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(conf_dir()), version_base=None):
            cfg = hydra_compose(config_name=command, overrides=overrides, return_hydra_config=True)
    except Exception as exc:  # Hydra and OmegaConf raise many types; all become one line
        raise ConfigError(describe(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    check_hydra_targets(cfg)
    with open_dict(cfg):
        cfg.pop("hydra")
    return check(command, cfg)


def override_key(override: str) -> str:
    """`model.hidden_size` of `+model.hidden_size=3`, `source` of `source=highd`."""
    return override.split("=", 1)[0].lstrip("+~")


def refuse_data_overrides(command: str, overrides: Iterable[str]) -> None:
    """A run trains on windows built earlier: an override of data preparation would be recorded yet change nothing."""
    if command not in RUNS_ON_BUILT_WINDOWS:
        return
    for override in overrides:
        key = override_key(override)
        section = key.split(".", 1)[0].split("/", 1)[0]
        if section in schema.LATER_STAGES:
            raise ConfigError(f"{key} is read by `{schema.LATER_STAGES[section]}`, not by `drivelab {command}`; set it "
                              f"there (or `dvc exp run -S {override}` for the pipeline)")
        if section in schema.DATA_PREPARATION:
            raise ConfigError(
                f"{key} belongs to data preparation ({schema.DATA_PREPARATION[section]}), not to `drivelab {command}`, "
                f"which runs on windows already built; prepare data with it there (or `dvc exp run -S {override}`) "
                "and point paths.data_dir at that data")


def check_hydra_targets(cfg: DictConfig) -> None:
    """Hydra instantiates its own callbacks, launcher and sweeper: their targets pass the registry too."""
    hydra = cfg.get("hydra") if isinstance(cfg, DictConfig) else None
    if hydra is None:
        return
    for section in ("callbacks", "launcher", "sweeper"):
        node = hydra.get(section)
        if node is None:
            continue
        try:
            check_targets({f"hydra.{section}": OmegaConf.to_container(node, resolve=False)})
        except UnsafeTargetError as exc:
            raise ConfigError(str(exc)) from None


def check(command: str, cfg: DictConfig, strict: bool = True) -> DictConfig:
    """Merge `cfg` over the command's schema; reject unknown keys, wrong types, missing values, unsafe targets.

    `strict=False` is for DVC's params.yaml, which holds every stage's sections: a command takes the ones it knows.
    """
    command_schema = schema.COMMAND_SCHEMAS[command]
    raw = OmegaConf.to_container(cfg, resolve=False)
    if not isinstance(raw, dict):
        raise ConfigError("the configuration is not a mapping")
    raw.pop("hydra", None)
    known = {f.name for f in dataclasses.fields(command_schema)}
    if strict:
        # Data sections are composed into the training tree for DVC; anything else nobody would read.
        unknown = [key for key in raw
                   if key not in known and key not in schema.DATA_PREPARATION and key not in schema.LATER_STAGES]
        if unknown:
            raise ConfigError(f"unknown key '{unknown[0]}': drivelab {command} has no such setting, so it would be "
                              "recorded and then ignored (check the spelling, or drop the leading +)")
    raw = {key: value for key, value in raw.items() if key in known}
    try:
        typed = OmegaConf.merge(OmegaConf.structured(command_schema), raw)
        if "model" in typed and isinstance(typed.model, DictConfig):
            model_schema = MODEL_SCHEMAS.get(typed.model.get("_target_"))
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
    check_ranges(resolved)
    try:
        check_targets(resolved)
    except UnsafeTargetError as exc:
        raise ConfigError(str(exc)) from None
    OmegaConf.set_struct(typed, True)
    return typed


def _lookup(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def check_ranges(resolved: Any) -> None:
    """Numbers out of their range (schema.RANGES) fail here, before anything runs or is written."""
    for key, allowed in schema.RANGES.items():
        value = _lookup(resolved, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not allowed.holds(value):
            raise ConfigError(f"{key}={value} is out of range: it must be {allowed.describe()}")
    for keys in schema.SUMS_BELOW_ONE:
        values = [_lookup(resolved, key) for key in keys]
        if all(isinstance(value, (int, float)) for value in values) and sum(values) >= 1:
            raise ConfigError(f"{' + '.join(keys)} = {sum(values):g} leaves nothing for training: it must be below 1")


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
