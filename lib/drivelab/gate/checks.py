"""One gate check: what was measured, against which threshold, and whether it passed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class Check:
    name: str  # e.g. metrics.rmse_5s, behaviour.free_road_lateral, export.onnx.p99_ms
    value: Optional[float]  # None when it could not be measured (detail says why)
    threshold: str  # human-readable: "<= 3 m"
    passed: bool
    config_key: str = ""  # where the threshold is set
    detail: str = ""

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def at_most(name: str, value: Optional[float], limit: float, unit: str = "", config_key: str = "",
            detail: str = "") -> Check:
    passed = value is not None and value == value and value <= limit  # NaN never passes
    return Check(name, value, f"<= {limit:g}{' ' + unit if unit else ''}", bool(passed), config_key, detail)


def failed(name: str, threshold: str, reason: str, config_key: str = "") -> Check:
    """A check that could not be measured fails, with the reason."""
    return Check(name, None, threshold, False, config_key, reason)


def format_value(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value != value or abs(value) == float("inf"):
        return str(value)
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.3f}"
