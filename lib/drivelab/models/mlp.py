"""An MLP that corrects constant velocity from the flattened histories of the target and its neighbours."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.datamodule import Batch
from drivelab.models.features import InputScaler
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput


class ResidualMLP(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 256, num_layers: int = 3, dropout: float = 0.0,
                 use_neighbours: bool = True, neighbour_steps: int = 1, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.use_neighbours = use_neighbours
        self.neighbour_steps = min(neighbour_steps, shapes["history_steps"])
        self.scaler = InputScaler(shapes["normalisation"])
        n_features = len(shapes["features"])
        inputs = shapes["history_steps"] * n_features
        if use_neighbours:
            inputs += shapes["max_neighbours"] * self.neighbour_steps * (n_features + 1)
        layers = []
        for _ in range(num_layers):
            layers += [nn.Linear(inputs, hidden_size), nn.GELU(), nn.Dropout(dropout)]
            inputs = hidden_size
        layers.append(nn.Linear(inputs, self.head_features))
        self.net = nn.Sequential(*layers)

    def forward(self, batch: Batch) -> TrajectoryOutput:
        inputs = [self.scaler.target_history(batch).flatten(1)]
        if self.use_neighbours:
            recent = self.scaler.neighbour_history(batch)[:, :, -self.neighbour_steps :]
            inputs.append(recent.flatten(1))
        return self.from_head(batch, self.net(torch.cat(inputs, dim=1)), self.scaler.residual_std)
