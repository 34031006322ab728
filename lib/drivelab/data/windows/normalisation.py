"""Feature scales fitted on the training split only, accumulated recording by recording (never all windows at once).

The result is stored in `windows.json` with the data version; models read it (`drivelab.models.features`).
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from drivelab.data.windows.extract import FEATURES, WindowSpec, constant_velocity

MIN_STD = 1e-3  # a constant feature must not divide by zero


class Moments:
    """Running count, mean and sum of squared deviations per column, merged batch by batch in float64.

    The pairwise update (Chan, Golub and LeVeque) gives the same result as one pass over all rows, without
    keeping them, and is stable where the naive sum of squares is not.
    """

    def __init__(self, width: int) -> None:
        self.count = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def update(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(self.mean))
        if len(rows):
            mean = rows.mean(axis=0)
            self.merge(len(rows), mean, ((rows - mean) ** 2).sum(axis=0))

    def merge(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Add `n` rows known by their mean and sum of squared deviations (another `Moments`' fields)."""
        if n == 0:
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count) if self.count else np.full(len(self.mean), np.nan)


class NormalisationFit:
    """History feature mean/std and the scale of the constant-velocity residual, from training windows only."""

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self.history = Moments(len(FEATURES))
        self.residual = Moments(2)

    def update(self, windows: Dict[str, np.ndarray]) -> None:
        self.history.update(windows["history"])
        cv = constant_velocity(windows["history"], self.spec.future_steps, self.spec.sample_hz)
        self.residual.update(windows["future"] - cv)

    def merge(self, other: "NormalisationFit") -> None:
        """Add the windows another fit saw (a worker's, for one recording); merged in a fixed order, the result
        does not depend on where the parts were fitted."""
        for mine, theirs in ((self.history, other.history), (self.residual, other.residual)):
            mine.merge(theirs.count, theirs.mean, theirs.m2)

    @property
    def windows(self) -> int:
        return self.history.count // self.spec.history_steps

    def result(self) -> Dict[str, List[float]]:
        return {
            "history_mean": self.history.mean.round(6).tolist(),
            "history_std": np.maximum(self.history.std, MIN_STD).round(6).tolist(),
            "residual_std": np.maximum(self.residual.std, MIN_STD).round(6).tolist(),
        }
