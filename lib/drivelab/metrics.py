"""Every metric drivelab reports, each declared once: its name, what it measures, and how per-window values
aggregate. Training, evaluation, slices, data summaries, tables, loggers and notebooks all read these declarations.

Trajectories (the highway papers' protocol), per horizon h in 1..5 s: RMSE_h = sqrt(mean over windows of
||pred_h - true_h||^2); ADE = mean displacement over all future points; FDE = displacement at the last point; miss
rate = share of windows with FDE > 2 m. Multimodal predictions add minADE/minFDE: the ADE/FDE of the best of K modes.
Lane-change intention: accuracy and macro-F1 (the unweighted mean of the per-class F1 scores).

Adding a trajectory metric is one entry in `trajectory_metrics` (or `MODE_METRICS`): a function from per-window
displacements to one value per window, and how those values aggregate (`mean`, or `root_mean` for an RMS). Sums
are accumulated in float64 so that metrics do not depend on batch size or order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import torch
from torchmetrics import Metric

HORIZONS_S = (1, 2, 3, 4, 5)
MISS_THRESHOLD_M = 2.0
AGGREGATES = ("mean", "root_mean")


@dataclass(frozen=True)
class MetricSpec:
    """One metric: `per_window` maps displacements (windows, steps) — or (windows, modes, steps) for a mode metric —
    to one value per window; `aggregate` turns their mean into the metric (`root_mean`: the square root of it).
    `window_column` names the per-window value in tables of single windows (for `root_mean`, its square root)."""

    name: str
    description: str
    unit: str
    per_window: Callable[[torch.Tensor], torch.Tensor]
    aggregate: str = "mean"
    window_column: str = ""

    def window_values(self, distance: torch.Tensor) -> torch.Tensor:
        values = self.per_window(distance)
        return values.sqrt() if self.aggregate == "root_mean" else values


def horizon_steps(future_steps: int, sample_hz: int) -> Dict[int, int]:
    """Index into the future of each whole-second horizon the prediction covers."""
    return {s: s * sample_hz - 1 for s in HORIZONS_S if s * sample_hz <= future_steps}


def _at_step(step: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda displacement: displacement[:, step] ** 2


def trajectory_metrics(future_steps: int, sample_hz: int) -> List[MetricSpec]:
    """The single-trajectory metrics of a prediction `future_steps` long at `sample_hz`, in table order."""
    specs = [MetricSpec(f"rmse_{s}s", f"root mean squared displacement at {s} s", "m", _at_step(step), "root_mean",
                        f"error_{s}s_m") for s, step in horizon_steps(future_steps, sample_hz).items()]
    specs += [
        MetricSpec("ade", "mean displacement over every future point", "m", lambda d: d.mean(dim=1), "mean", "ade_m"),
        MetricSpec("fde", "displacement at the last future point", "m", lambda d: d[:, -1], "mean", "fde_m"),
        MetricSpec("miss_rate", f"share of windows whose final displacement exceeds {MISS_THRESHOLD_M:g} m", "",
                   lambda d: (d[:, -1] > MISS_THRESHOLD_M).double(), "mean", "miss"),
    ]
    return specs


MODE_METRICS: List[MetricSpec] = [
    MetricSpec("min_ade", "ADE of the best of the K predicted modes", "m", lambda d: d.mean(dim=2).amin(dim=1),
               "mean", "min_ade_m"),
    MetricSpec("min_fde", "FDE of the best of the K predicted modes", "m", lambda d: d[:, :, -1].amin(dim=1),
               "mean", "min_fde_m"),
]


def displacement(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Euclidean error at every future point in float64: (windows, steps), or (windows, modes, steps) for modes."""
    if pred.dim() == true.dim() + 1:
        true = true[:, None]
    return torch.linalg.vector_norm(pred.double() - true.double(), dim=-1)


def sums_of(specs: List[MetricSpec], distance: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-metric sums over windows (and the window count): what accumulates across batches and processes."""
    sums = {spec.name: spec.per_window(distance).sum() for spec in specs}
    sums["count"] = torch.tensor(float(len(distance)), dtype=torch.float64, device=distance.device)
    return sums


def finish(specs: List[MetricSpec], sums: Dict[str, Any]) -> Dict[str, float]:
    """Metric values from accumulated sums; none for zero windows."""
    count = float(sums["count"])
    if count == 0:
        return {}
    values = {}
    for spec in specs:
        mean = float(sums[spec.name]) / count
        values[spec.name] = mean ** 0.5 if spec.aggregate == "root_mean" else mean
    return values


def error_sums(pred: torch.Tensor, true: torch.Tensor, sample_hz: int) -> Dict[str, torch.Tensor]:
    return sums_of(trajectory_metrics(true.shape[1], sample_hz), displacement(pred, true))


def summarize(sums: Dict[str, Any], future_steps: int, sample_hz: int) -> Dict[str, float]:
    return finish(trajectory_metrics(future_steps, sample_hz), sums)


def trajectory_errors(pred, true, sample_hz: int) -> Dict[str, float]:
    """Metrics of whole arrays (numpy or torch) at once."""
    pred, true = torch.as_tensor(pred), torch.as_tensor(true)
    return summarize(error_sums(pred, true, sample_hz), true.shape[1], sample_hz)


class DeclaredMetrics(Metric):
    """Accumulates the sums of a list of `MetricSpec`s over batches (and over DDP processes) and reports them."""

    full_state_update = False

    def __init__(self, specs: List[MetricSpec], **kwargs: Any) -> None:
        super().__init__(**kwargs)  # torchmetrics options, e.g. sync_on_compute
        self.specs = specs
        for name in [spec.name for spec in specs] + ["count"]:
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        for name, value in sums_of(self.specs, displacement(pred, true)).items():
            setattr(self, name, getattr(self, name) + value)

    def compute(self) -> Dict[str, float]:
        return finish(self.specs, {name: getattr(self, name) for name in [s.name for s in self.specs] + ["count"]})


class TrajectoryMetrics(DeclaredMetrics):
    """`trajectory_metrics` of one predicted trajectory per window, (n, future_steps, 2) against the truth."""

    def __init__(self, future_steps: int, sample_hz: int, **kwargs: Any) -> None:
        super().__init__(trajectory_metrics(future_steps, sample_hz), **kwargs)


class ModeMetrics(DeclaredMetrics):
    """`MODE_METRICS` of K predicted modes, (n, K, future_steps, 2) against (n, future_steps, 2)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(MODE_METRICS, **kwargs)


class ClassificationMetrics(Metric):
    """Accuracy and macro-F1 from a confusion matrix; a class absent from both truth and prediction is left out of
    the macro average (its F1 is undefined), one that is only missed or only predicted counts as F1 = 0."""

    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("confusion", torch.zeros(num_classes, num_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predicted: torch.Tensor, true: torch.Tensor) -> None:
        index = true.long() * self.num_classes + predicted.long()
        counts = torch.bincount(index, minlength=self.num_classes**2).double()
        self.confusion += counts.view(self.num_classes, self.num_classes)

    def compute(self) -> Dict[str, float]:
        return classification_scores(self.confusion)


def classification_scores(confusion: torch.Tensor) -> Dict[str, float]:
    """Accuracy and macro-F1 of a confusion matrix (rows: true class, columns: predicted class)."""
    total = float(confusion.sum())
    if total == 0:
        return {}
    hits = torch.diagonal(confusion)
    support, predicted = confusion.sum(dim=1), confusion.sum(dim=0)
    seen = (support + predicted) > 0
    f1 = 2 * hits / torch.clamp(support + predicted, min=1)
    return {"accuracy": float(hits.sum()) / total, "macro_f1": float(f1[seen].mean())}
