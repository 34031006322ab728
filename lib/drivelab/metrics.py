"""Every metric drivelab reports, one definition for training, evaluation and data summaries.

Trajectories (the highway papers' protocol), per horizon h in 1..5 s: RMSE_h = sqrt(mean over samples of
||pred_h - true_h||^2); ADE = mean displacement over all future points; FDE = displacement at the last point; miss
rate = share of samples with FDE > 2 m. Multimodal predictions add minADE/minFDE: the ADE/FDE of the best of K modes.
Lane-change intention: accuracy and macro-F1 (the unweighted mean of the per-class F1 scores).
Sums are accumulated in float64 so that metrics do not depend on batch size or order.
"""

from __future__ import annotations

from typing import Any, Dict

import torch
from torchmetrics import Metric

HORIZONS_S = (1, 2, 3, 4, 5)
MISS_THRESHOLD_M = 2.0


def horizon_steps(future_steps: int, sample_hz: int) -> Dict[int, int]:
    """Index into the future of each whole-second horizon the prediction covers."""
    return {s: s * sample_hz - 1 for s in HORIZONS_S if s * sample_hz <= future_steps}


def error_sums(pred: torch.Tensor, true: torch.Tensor, sample_hz: int) -> Dict[str, torch.Tensor]:
    displacement = torch.linalg.vector_norm(pred.double() - true.double(), dim=-1)  # (n, future_steps)
    steps = horizon_steps(true.shape[1], sample_hz)
    final = displacement[:, -1]
    return {
        "squared_at_horizon": (displacement[:, list(steps.values())] ** 2).sum(dim=0),
        "displacement": displacement.mean(dim=1).sum(),
        "final_displacement": final.sum(),
        "misses": (final > MISS_THRESHOLD_M).double().sum(),
        "count": torch.tensor(float(len(true)), dtype=torch.float64, device=true.device),
    }


def summarize(sums: Dict[str, torch.Tensor], future_steps: int, sample_hz: int) -> Dict[str, float]:
    count = float(sums["count"])
    if count == 0:
        return {}
    steps = horizon_steps(future_steps, sample_hz)
    metrics = {f"rmse_{s}s": float(torch.sqrt(sums["squared_at_horizon"][i] / count)) for i, s in enumerate(steps)}
    metrics["ade"] = float(sums["displacement"]) / count
    metrics["fde"] = float(sums["final_displacement"]) / count
    metrics["miss_rate"] = float(sums["misses"]) / count
    return metrics


def trajectory_errors(pred, true, sample_hz: int) -> Dict[str, float]:
    """Metrics of whole arrays (numpy or torch) at once."""
    pred, true = torch.as_tensor(pred), torch.as_tensor(true)
    return summarize(error_sums(pred, true, sample_hz), true.shape[1], sample_hz)


class TrajectoryMetrics(Metric):
    """Accumulates `error_sums` over batches (and over DDP processes) and reports `summarize`."""

    full_state_update = False

    def __init__(self, future_steps: int, sample_hz: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # torchmetrics options, e.g. sync_on_compute
        self.future_steps, self.sample_hz = future_steps, sample_hz
        n_horizons = len(horizon_steps(future_steps, sample_hz))
        self.add_state("squared_at_horizon", torch.zeros(n_horizons, dtype=torch.float64), dist_reduce_fx="sum")
        for name in ("displacement", "final_displacement", "misses", "count"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        for name, value in error_sums(pred, true, self.sample_hz).items():
            setattr(self, name, getattr(self, name) + value)

    def compute(self) -> Dict[str, float]:
        names = ("squared_at_horizon", "displacement", "final_displacement", "misses", "count")
        return summarize({name: getattr(self, name) for name in names}, self.future_steps, self.sample_hz)


class ModeMetrics(Metric):
    """minADE and minFDE over K predicted modes: (n, K, future_steps, 2) against (n, future_steps, 2)."""

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("min_displacement", "min_final_displacement", "count"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, modes: torch.Tensor, true: torch.Tensor) -> None:
        displacement = torch.linalg.vector_norm(modes.double() - true.double()[:, None], dim=-1)  # (n, K, steps)
        self.min_displacement += displacement.mean(dim=2).amin(dim=1).sum()
        self.min_final_displacement += displacement[:, :, -1].amin(dim=1).sum()
        self.count += float(len(true))

    def compute(self) -> Dict[str, float]:
        count = float(self.count)
        if count == 0:
            return {}
        return {"min_ade": float(self.min_displacement) / count, "min_fde": float(self.min_final_displacement) / count}


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
