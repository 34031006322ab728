"""The window settings, declared once: `WindowSpec` is both what windowing takes and, extended by
`drivelab.config.schema.WindowsConfig`, the schema of `conf/windows/`. Their default values live only in
`conf/windows/default.yaml`: every field here is `MISSING` (a value that must be given) until the YAML, or the
caller, sets it.

Imported when a config is validated, before anything heavy: this module imports neither numpy nor pandas.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, List, Mapping

from omegaconf import MISSING

from drivelab.errors import DrivelabError

INTENTION_HORIZON_S = 3.0  # the lane-change intention label looks this far ahead (or the whole future, if shorter)


# Not frozen: the config schema subclasses it, and OmegaConf cannot merge values into a frozen dataclass.
@dataclass
class WindowSpec:
    sample_hz: int = MISSING  # windows are resampled to this rate
    history_s: float = MISSING  # past seconds seen by the model, the present included
    future_s: float = MISSING  # seconds to predict
    stride_s: float = MISSING  # spacing of window start times along a track
    max_neighbours: int = MISSING  # neighbour slots per window (nearest first)
    neighbour_radius_m: float = MISSING  # neighbours farther than this are ignored

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> "WindowSpec":
        """The spec from a `windows` config section (its other keys, such as `split` or `workers`, are ignored)."""
        names = [field.name for field in dataclasses.fields(WindowSpec)]
        absent = [name for name in names if settings.get(name, MISSING) == MISSING]
        if absent:
            raise DrivelabError(f"windows.{absent[0]} is not set; conf/windows/default.yaml gives every window setting")
        return cls(**{name: settings[name] for name in names})

    @property
    def history_steps(self) -> int:
        return int(round(self.history_s * self.sample_hz)) + 1  # the present is the last history point

    @property
    def future_steps(self) -> int:
        return int(round(self.future_s * self.sample_hz))

    @property
    def stride_steps(self) -> int:
        return max(1, int(round(self.stride_s * self.sample_hz)))

    @property
    def intention_steps(self) -> int:
        return min(self.future_steps, int(round(INTENTION_HORIZON_S * self.sample_hz)))


# How far apart windows start changes how many there are, not what one holds: a model trained with one stride scores
# windows of another.
SPACING_ONLY = ("stride_s",)


def differing_settings(trained: Mapping[str, Any], other: Mapping[str, Any]) -> List[str]:
    """`windows.<name>: <trained> vs <other>` for every window setting (WindowSpec field) that changes what a window
    holds and differs between two recorded specs."""
    names = [field.name for field in dataclasses.fields(WindowSpec) if field.name not in SPACING_ONLY]
    return [f"windows.{name}: {trained.get(name)} vs {other.get(name)}" for name in names
            if trained.get(name) != other.get(name)]
