"""Lightning callbacks a sweep adds to each trial: pruning and a clock.

`OptunaPruning` reports a validation metric to an Optuna trial after every validation epoch and stops a trial the
pruner rejects. Optuna's own Lightning callback lives in `optuna-integration` and imports the `lightning` package;
drivelab trains with `pytorch_lightning`, and this is all the callback has to do. `TrialClock` times fit and test,
so that a trial's cost splits into training and the overhead around it.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional

import optuna
import pytorch_lightning as pl

from drivelab.errors import DrivelabError


class MetricNotLoggedError(DrivelabError):
    pass


class OptunaPruning(pl.Callback):
    def __init__(self, trial: optuna.trial.Trial, monitor: str, direction: str) -> None:
        self.trial, self.monitor, self.direction = trial, monitor, direction
        self.values: Dict[int, float] = {}  # epoch -> reported value

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value: Any = trainer.callback_metrics.get(self.monitor)
        if value is None:
            logged = ", ".join(sorted(name for name in trainer.callback_metrics if name.startswith("val/")))
            raise MetricNotLoggedError(f"search.objective.metric={self.monitor} was not logged; logged: {logged}")
        epoch, value = trainer.current_epoch, float(value)
        self.values[epoch] = value
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.monitor}={value:.4f} at epoch {epoch}")

    def best(self) -> Optional[float]:
        """The best reported value (the epoch whose checkpoint a matching ModelCheckpoint keeps)."""
        finite = [value for value in self.values.values() if math.isfinite(value)]
        if not finite:
            return next(iter(self.values.values()), None)  # nan/inf or nothing: Optuna fails the trial
        return min(finite) if self.direction == "minimize" else max(finite)


class TrialClock(pl.Callback):
    """Seconds spent in `Trainer.fit` and `Trainer.test`."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {"fit": 0.0, "test": 0.0}
        self._started: Dict[str, float] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started["fit"] = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop("fit")

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started["test"] = time.perf_counter()

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop("test")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        for stage in list(self._started):
            self._stop(stage)

    def _stop(self, stage: str) -> None:
        started = self._started.pop(stage, None)
        if started is not None:
            self.seconds[stage] += time.perf_counter() - started
