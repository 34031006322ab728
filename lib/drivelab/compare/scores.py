"""Every run's errors window by window, on the same windows in the same order, so that two models can be compared
window by window (their difference cancels how hard each window is)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from drivelab.config.registry import instantiate
from drivelab.errors import DrivelabError
from drivelab.evaluation.slices import slice_masks
from drivelab.metrics import MetricSpec, displacement, trajectory_metrics
from drivelab.models.trajectory import TrajectoryModel, most_likely
from drivelab.runs import Run

SLICES = ("all", "lane_change", "lane_keep", "dense", "free_flow")
IDENTITY = ("recording", "track_id", "frame")  # what makes a window the same window in every run's pass


@dataclass
class WindowScores:
    """One run on one set of windows: per metric, the per-window values that average into it (squared errors for
    an RMS); the squared error at every future step; the slices each window is in; the windows' identity."""

    values: Dict[str, np.ndarray]
    squared_by_step: np.ndarray  # (windows, future steps)
    slices: Dict[str, np.ndarray]
    identity: np.ndarray  # (windows, 3)
    times_s: List[float]

    @property
    def count(self) -> int:
        return len(self.identity)


def metric_specs(future_steps: int, sample_hz: int) -> List[MetricSpec]:
    return trajectory_metrics(future_steps, sample_hz)


@torch.no_grad()
def score_run(run: Run, data_dir: Optional[Path] = None, test_splits: Sequence[str] = ("test",),
              batch_size: int = 2048) -> WindowScores:
    """The run's model (best checkpoint, weights-only) on the test windows of its own data version, or on
    `test_splits` of `data_dir`'s (checked for the same window settings)."""
    model = run.model(data_dir)
    if not isinstance(model, TrajectoryModel):
        raise DrivelabError(f"{run.name}: {type(model).__name__} predicts {getattr(model, 'task', '?')!r}; "
                            "drivelab compare compares trajectory models")
    config = run.config_for(data_dir)
    datamodule = instantiate(config.data, test_splits=list(test_splits), eval_batch_size=batch_size)
    datamodule.setup("test")
    sample_hz = int(model.shapes["sample_hz"])
    specs = metric_specs(int(model.shapes["future_steps"]), sample_hz)
    values: Dict[str, List[np.ndarray]] = {spec.name: [] for spec in specs}
    slices: Dict[str, List[np.ndarray]] = {name: [] for name in SLICES}
    squared, identity = [], []
    for batch in datamodule.test_dataloader():
        distance = displacement(most_likely(model(batch)), batch["future"])
        for spec in specs:
            values[spec.name].append(spec.per_window(distance).numpy())
        masks = slice_masks(batch, sample_hz)
        for name in SLICES:
            slices[name].append(masks[name].numpy())
        squared.append((distance ** 2).numpy())
        identity.append(np.stack([batch[key].numpy().astype(np.int64) for key in IDENTITY], axis=1))
    if not identity:
        raise DrivelabError(f"no test windows in {config.data.windows_dir} to score {run.name} on")
    return WindowScores(values={name: np.concatenate(parts) for name, parts in values.items()},
                        squared_by_step=np.concatenate(squared), slices={n: np.concatenate(p) for n, p in slices.items()},
                        identity=np.concatenate(identity), times_s=model.future_times_s.tolist())


def check_same_windows(scores: Dict[str, WindowScores]) -> None:
    """Every run was scored on the very same windows in the same order (a paired comparison needs it)."""
    names = list(scores)
    first = scores[names[0]]
    for name in names[1:]:
        if scores[name].count != first.count or not np.array_equal(scores[name].identity, first.identity):
            raise DrivelabError(f"{name} was scored on other windows than {names[0]} "
                                f"({scores[name].count} vs {first.count}); the runs must share a data version")
