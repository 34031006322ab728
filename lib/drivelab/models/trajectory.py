"""The trajectory prediction task: future positions of the target in its own frame, scored with the highway papers'
metrics (RMSE per horizon, ADE, FDE, miss rate) and, for multimodal models, minADE/minFDE.

A model's `forward(batch)` returns either one trajectory per sample, (batch, future_steps, 2), or, with
`num_modes > 1`, `Modes`: K trajectories and their unnormalised log-probabilities. Single-mode metrics always score the
most likely mode, so every model of the task fills the same table.
"""

from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Union

import torch
from torch import nn

from drivelab.data.windows.batch import Batch
from drivelab.metrics import ModeMetrics, TrajectoryMetrics
from drivelab.models.base import MetricSet, TaskModel

MODE_LOSSES = ("wta", "nll")


class Modes(NamedTuple):
    trajectories: torch.Tensor  # (batch, modes, future_steps, 2)
    logits: torch.Tensor  # (batch, modes): log-probabilities up to a constant


TrajectoryOutput = Union[torch.Tensor, Modes]


def most_likely(output: TrajectoryOutput) -> torch.Tensor:
    """The trajectory single-mode metrics score: the only one, or the mode with the highest probability."""
    if isinstance(output, Modes):
        best = output.logits.argmax(dim=1)
        return output.trajectories[torch.arange(best.shape[0], device=best.device), best]  # shape, not len(): export
    return output


def as_modes(output: TrajectoryOutput) -> Modes:
    if isinstance(output, Modes):
        return output
    return Modes(output[:, None], torch.zeros(output.shape[0], 1, dtype=output.dtype, device=output.device))


def squared_displacement(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean over future points of the squared displacement, per sample (and per mode if `pred` has modes)."""
    if pred.dim() == true.dim() + 1:
        true = true[:, None]
    return ((pred - true) ** 2).sum(dim=-1).mean(dim=-1)


def winner_takes_all_loss(modes: Modes, true: torch.Tensor) -> torch.Tensor:
    """Regress only the mode closest to the truth; teach the mode probabilities to pick it (cross-entropy)."""
    errors = squared_displacement(modes.trajectories, true)  # (batch, modes)
    winner = errors.argmin(dim=1)
    regression = errors.gather(1, winner[:, None]).squeeze(1)
    classification = nn.functional.cross_entropy(modes.logits, winner, reduction="none")
    return (regression + classification).mean()


def mixture_nll(modes: Modes, true: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of the truth under a mixture of isotropic 2-D Gaussians, one per mode, with a shared
    per-step standard deviation exp(log_scale) (future_steps,), averaged over samples and divided by future steps."""
    residual = ((modes.trajectories - true[:, None]) ** 2).sum(dim=-1)  # (batch, modes, steps)
    variance = torch.exp(2 * log_scale)
    log_density = -0.5 * residual / variance - 2 * log_scale - math.log(2 * math.pi)
    log_weights = torch.log_softmax(modes.logits, dim=1)
    per_sample = -torch.logsumexp(log_weights + log_density.sum(dim=-1), dim=1)
    return per_sample.mean() / true.shape[1]


class TrajectoryModel(TaskModel):
    task = "trajectory"
    monitor = ("rmse_5s", "min")

    def __init__(self, shapes: Dict[str, Any], num_modes: int = 1, mode_loss: str = "wta", **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        if num_modes < 1:
            raise ValueError(f"model.num_modes must be at least 1, got {num_modes}")
        if mode_loss not in MODE_LOSSES:
            raise ValueError(f"model.mode_loss must be one of {', '.join(MODE_LOSSES)}, got {mode_loss!r}")
        self.future_steps, self.sample_hz = shapes["future_steps"], shapes["sample_hz"]
        self.num_modes, self.mode_loss = num_modes, mode_loss
        self.register_buffer("future_times_s", torch.arange(1, self.future_steps + 1, dtype=torch.float32) / self.sample_hz)
        if num_modes > 1 and mode_loss == "nll":
            self.log_scale = nn.Parameter(torch.zeros(self.future_steps))  # log std per step (log m), learned
        self.setup_metrics()

    def constant_velocity(self, batch: Batch) -> torch.Tensor:
        """The physics prior most models correct: hold the present velocity."""
        velocity = batch["history"][:, -1, 2:4]
        return velocity[:, None, :] * self.future_times_s[None, :, None]

    def to_output(self, positions: torch.Tensor, logits: torch.Tensor | None = None) -> TrajectoryOutput:
        """(batch, modes, steps, 2) positions and (batch, modes) logits as this model's output type."""
        if self.num_modes == 1:
            return positions[:, 0]
        return Modes(positions, logits)

    @property
    def head_features(self) -> int:
        """Width of a flat head predicting K scaled corrections to constant velocity (and K logits when K > 1)."""
        return self.num_modes * self.future_steps * 2 + (self.num_modes if self.num_modes > 1 else 0)

    def from_head(self, batch: Batch, head: torch.Tensor, residual_std: torch.Tensor) -> TrajectoryOutput:
        """Constant velocity plus the corrections a flat head of `head_features` predicted (in units of the training
        split's residual standard deviation)."""
        n_positions = self.num_modes * self.future_steps * 2
        residual = head[:, :n_positions].view(-1, self.num_modes, self.future_steps, 2) * residual_std
        positions = self.constant_velocity(batch)[:, None] + residual
        return self.to_output(positions, head[:, n_positions:] if self.num_modes > 1 else None)

    def loss(self, output: TrajectoryOutput, batch: Batch) -> torch.Tensor:
        """Single mode: mean squared displacement over all future points (what RMSE measures); several modes:
        winner-takes-all or mixture NLL (`model.mode_loss`)."""
        true = batch["future"]
        if not isinstance(output, Modes):
            return squared_displacement(output, true).mean()
        if self.mode_loss == "nll":
            return mixture_nll(output, true, self.log_scale)
        return winner_takes_all_loss(output, true)

    def make_metrics(self, **options: Any) -> MetricSet:
        metrics = {"trajectory": TrajectoryMetrics(self.future_steps, self.sample_hz, **options)}
        if self.num_modes > 1:
            metrics["modes"] = ModeMetrics(**options)
        return MetricSet(metrics)

    def update_metrics(self, metrics: MetricSet, output: TrajectoryOutput, batch: Batch) -> None:
        metrics["trajectory"].update(most_likely(output), batch["future"])
        if "modes" in metrics:
            metrics["modes"].update(as_modes(output).trajectories, batch["future"])

    def predict_trajectory(self, batch: Batch) -> torch.Tensor:
        """The most likely future, (batch, future_steps, 2), for callers that want one trajectory."""
        return most_likely(self(batch))
