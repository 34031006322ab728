"""Trajectory metrics of the highway papers, one definition for training, evaluation and data summaries.

Per horizon h in 1..5 s: RMSE_h = sqrt(mean over samples of ||pred_h - true_h||^2); ADE = mean displacement over all
future points; FDE = displacement at the last point; miss rate = share of samples with FDE > 2 m.
Sums are accumulated in float64 so that metrics do not depend on batch size or order.
"""

from __future__ import annotations

from typing import Dict

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

    def __init__(self, future_steps: int, sample_hz: int) -> None:
        super().__init__()
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
