"""A search space (`conf/search/*.yaml`): parsed, checked against the training config, turned into overrides.

A parameter is a config key (`model.hidden_size`) or a config group (`model`, categorical over its options). The
space has no conditional parameters: every value of every parameter must compose with every other one, which is
checked at the space's extremes before the first trial. Nothing here imports torch or Optuna.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from omegaconf import DictConfig, OmegaConf

from drivelab.config.validate import ConfigError, compose

TYPES = ("int", "float", "categorical")
DIRECTIONS = ("minimize", "maximize")
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_HYDRA_KEYWORDS = {"true", "false", "null", "nan", "inf"}


class SearchSpaceError(ConfigError):
    """A search space that cannot be searched, explained in one line."""


@dataclass(frozen=True)
class Param:
    key: str  # config key or config group, and the Optuna parameter name
    type: str  # int | float | categorical
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.type == "int":
            step = int(self.step) if self.step else 1
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=step, log=self.log)
        if self.type == "float":
            return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)
        return trial.suggest_categorical(self.key, list(self.choices))

    def extremes(self) -> List[Any]:
        """The values that bound what a trial can get: both ends of a range, or every choice."""
        if self.type == "int":
            return [int(self.low), int(self.high)]
        if self.type == "float":
            return [float(self.low), float(self.high)]
        return list(self.choices)

    def describe(self) -> Dict[str, Any]:
        """A plain description, stored with the study so that a resumed study is known to be the same search."""
        if self.type == "categorical":
            return {"type": self.type, "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high, "log": self.log, "step": self.step}


def parse_space(params_cfg: Any, where: str) -> List[Param]:
    """Every parameter of `search.params`, each checked on its own (type, range, scale, choices)."""
    params_cfg = OmegaConf.to_container(params_cfg, resolve=True) if OmegaConf.is_config(params_cfg) else params_cfg
    if not params_cfg:
        raise SearchSpaceError(f"{where}: search.params is empty; declare at least one parameter to search")
    return [_parse_param(str(key), spec, f"{where}: search.params.{key}") for key, spec in params_cfg.items()]


def _parse_param(key: str, spec: Dict[str, Any], name: str) -> Param:
    kind = spec.get("type")
    if kind not in TYPES:
        raise SearchSpaceError(f"{name}.type={kind!r} is not a parameter type; choose one of: {', '.join(TYPES)}")
    if kind == "categorical":
        choices = list(spec.get("choices") or [])
        if spec.get("low") is not None or spec.get("high") is not None:
            raise SearchSpaceError(f"{name}: a categorical parameter takes choices, not low/high")
        if not choices:
            raise SearchSpaceError(f"{name}: no choices; list the values to try under choices")
        odd = [choice for choice in choices if not (choice is None or isinstance(choice, (bool, int, float, str)))]
        if odd:
            raise SearchSpaceError(f"{name}: choice {odd[0]!r} is not a plain value (number, string, boolean, null)")
        return Param(key, kind, choices=tuple(choices))
    if spec.get("choices"):
        raise SearchSpaceError(f"{name}: an {kind} parameter takes low/high, not choices (or use type: categorical)")
    if spec.get("low") is None or spec.get("high") is None:
        raise SearchSpaceError(f"{name}: an {kind} range needs both low and high")
    low, high, step, log = float(spec["low"]), float(spec["high"]), spec.get("step"), bool(spec.get("log"))
    bounds = f"[{_number(low)}, {_number(high)}]"
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SearchSpaceError(f"{name}: the range {bounds} must be finite")
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise SearchSpaceError(f"{name}: an int range needs whole numbers; got {bounds}")
    if low > high:
        raise SearchSpaceError(f"{name}: the range {bounds} is empty; low must be below high")
    if low == high:
        raise SearchSpaceError(f"{name}: the range {bounds} holds one value; set it in search.overrides instead")
    if log and low <= 0:
        raise SearchSpaceError(f"{name}: a log-scale range must start above 0; got {bounds}")
    if step is not None:
        step = float(step)
        if log:
            raise SearchSpaceError(f"{name}: log scale and step cannot be combined; drop one")
        if not 0 < step <= high - low or (kind == "int" and not step.is_integer()):
            raise SearchSpaceError(f"{name}: step {_number(step)} does not fit the range {bounds}")
    return Param(key, kind, low=low, high=high, log=log, step=step)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def override_key(override: str) -> str:
    """The config key (or group) an override sets: `+trainer.x=1` -> `trainer.x`."""
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(*groups: Iterable[str]) -> List[str]:
    """Concatenate override lists; a key set again replaces its earlier setting (later lists win)."""
    merged: Dict[str, str] = {}
    for group in groups:
        for override in group:
            key = override_key(override)
            merged.pop(key, None)
            merged[key] = override
    return list(merged.values())


def format_value(value: Any) -> str:
    """A value as Hydra's override grammar reads it back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN_WORD.fullmatch(text) and text.lower() not in _HYDRA_KEYWORDS:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def trial_overrides(values: Dict[str, Any]) -> List[str]:
    return [f"{key}={format_value(value)}" for key, value in values.items()]


def check_space(params: Sequence[Param], base_overrides: Sequence[str], where: str) -> List[DictConfig]:
    """Compose the training config at the space's extremes (every choice of a categorical parameter).

    Returns one composed config per distinct model target met, for the caller to probe. Raises SearchSpaceError
    naming the parameter and value that does not fit (unknown key, wrong type, unknown group option).
    """
    searched = {param.key for param in params}
    clashes = sorted(searched & {override_key(override) for override in base_overrides})
    if clashes:
        raise SearchSpaceError(f"{where}: {clashes[0]} is searched, so no override may set it; remove "
                               f"{clashes[0]}=... from the command line or search.overrides")
    try:
        compose("train", base_overrides)
    except ConfigError as exc:
        raise SearchSpaceError(f"{where}: the trials' fixed overrides do not compose: {exc}") from None
    corners = [{param.key: param.extremes()[0] for param in params}, {param.key: param.extremes()[-1] for param in params}]
    for param in params:
        corners += [{**corners[0], param.key: value} for value in param.extremes()[1:-1]]
    by_model: Dict[str, DictConfig] = {}
    for corner in corners:
        try:
            cfg = compose("train", [*base_overrides, *trial_overrides(corner)])
        except ConfigError as exc:
            raise _blame(params, base_overrides, where, corner, exc) from None
        by_model.setdefault(str(cfg.model.get("_target_")), cfg)
    return list(by_model.values())


def _blame(params: Sequence[Param], base_overrides: Sequence[str], where: str, corner: Dict[str, Any],
           error: ConfigError) -> SearchSpaceError:
    """Find the single parameter value that breaks composition, else report the combination."""
    for param in params:
        for value in param.extremes():
            override = f"{param.key}={format_value(value)}"
            try:
                compose("train", [*base_overrides, override])
            except ConfigError as exc:
                return SearchSpaceError(f"{where}: parameter {override} does not fit the training config: {exc}")
    combination = " ".join(trial_overrides(corner))
    return SearchSpaceError(f"{where}: the values {combination} do not compose together: {error}")
