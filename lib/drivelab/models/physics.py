"""Physics baselines: no parameters, no training; the yardstick every learned model must beat."""

from __future__ import annotations

from typing import Any, Dict

import torch

from drivelab.data.windows.batch import Batch
from drivelab.models.trajectory import TrajectoryModel


class ConstantVelocity(TrajectoryModel):
    """Hold the present velocity; with `lateral_speed=False` keep the present lateral position."""

    def __init__(self, shapes: Dict[str, Any], lateral_speed: bool = True, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.lateral_speed = lateral_speed

    def forward(self, batch: Batch) -> torch.Tensor:
        pred = self.constant_velocity(batch)
        if not self.lateral_speed:
            pred = torch.stack([pred[..., 0], torch.zeros_like(pred[..., 1])], dim=-1)
        return pred


class ConstantAcceleration(TrajectoryModel):
    """Extrapolate the present acceleration, estimated from the last two history velocities."""

    def forward(self, batch: Batch) -> torch.Tensor:
        velocity = batch["history"][:, -1, 2:4]
        acceleration = (batch["history"][:, -1, 2:4] - batch["history"][:, -2, 2:4]) * self.sample_hz
        times_s = self.future_times_s[None, :, None]
        return velocity[:, None, :] * times_s + 0.5 * acceleration[:, None, :] * times_s**2
