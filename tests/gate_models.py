"""Purpose-built models for the gate's tests: one good, and one bad in each way a gate check must catch."""

from __future__ import annotations

import torch

from drivelab.models.features import present_neighbours
from drivelab.models.physics import ConstantVelocity
from drivelab.models.trajectory import TrajectoryModel

LANE_HALF_WIDTH_M = 1.75
STANDSTILL_GAP_M = 7.0  # front of the follower to the leader's centre when both stand


class StopsForStoppedLeader(ConstantVelocity):
    """Good: constant velocity, except that it never drives past a stopped vehicle ahead in its lane."""

    def forward(self, batch):
        positions = super().forward(batch)
        now = batch["neighbours"][:, :, -1]
        stopped_ahead = present_neighbours(batch) & (now[..., 0] > 0) & (now[..., 1].abs() < LANE_HALF_WIDTH_M) \
            & (now[..., 2].abs() < 0.5)
        gap = torch.where(stopped_ahead, now[..., 0], torch.full_like(now[..., 0], float("inf"))).amin(dim=1)
        limit = (gap - STANDSTILL_GAP_M).clamp(min=0.0)[:, None]
        return torch.stack([torch.minimum(positions[..., 0], limit), positions[..., 1]], dim=-1)


class IgnoresHistory(TrajectoryModel):
    """Bad: the same straight 25 m/s path whatever the history says."""

    def forward(self, batch):
        history = batch["history"]
        path = torch.stack([25.0 * self.future_times_s, torch.zeros_like(self.future_times_s)], dim=-1)
        return path[None].expand(history.shape[0], -1, -1) + 0.0 * history[:, :1, :2]


class NaNWhenFast(ConstantVelocity):
    """Bad: constant velocity, but NaN above 50 m/s (a valid if extreme speed)."""

    def forward(self, batch):
        positions = super().forward(batch)
        fast = batch["history"][:, -1, 2] > 50.0
        return torch.where(fast[:, None, None], torch.full_like(positions, float("nan")), positions)


class DrivesThroughStoppedLeader(ConstantVelocity):
    """Bad: plain constant velocity, which ignores the vehicle standing in its way."""


class FarBeyondLatencyBudget(ConstantVelocity):
    """Bad: constant velocity after about 6.4 GFLOP of work per call (an exported graph cannot sleep, so it computes):
    at least 25 ms on one core of any CPU (a single AVX-512 core peaks near 250 GFLOP/s), beyond a 5 ms budget."""

    def __init__(self, shapes, **kwargs):
        super().__init__(shapes, **kwargs)
        self.register_buffer("weight", torch.randn(512, 512, generator=torch.Generator().manual_seed(0)) / 23.0)

    def forward(self, batch):
        state = self.weight + 1e-9 * batch["history"][:, -1, 2].mean()  # depends on the input: never folded away
        for _ in range(24):
            state = torch.tanh(state @ self.weight)
        return super().forward(batch) + 1e-30 * state.mean()  # below float32 resolution of any position
