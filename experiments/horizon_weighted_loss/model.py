"""A different loss for the residual MLP: squared displacement weighted by (t / T) ** power over the future steps,
normalised to mean weight 1, so that late points (RMSE@5s) weigh more than the first ones. Only `loss` changes."""

from __future__ import annotations

from typing import Any, Dict

import torch

from drivelab.config.registry import configurable
from drivelab.models.mlp import ResidualMLP


@configurable
class HorizonWeightedMLP(ResidualMLP):
    def __init__(self, shapes: Dict[str, Any], weight_power: float = 1.0, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        weights = (self.future_times_s / self.future_times_s[-1]) ** weight_power
        self.register_buffer("step_weights", weights / weights.mean(), persistent=False)

    def loss(self, output: torch.Tensor, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self.num_modes > 1:
            return super().loss(output, batch)
        squared = ((output - batch["future"]) ** 2).sum(dim=-1)  # (batch, future_steps)
        return (squared * self.step_weights).mean()
