"""An MLP that corrects constant velocity from the target's flattened history and its neighbours' recent states.

Neighbours are either embedded one by one beside the target's present state and max-pooled (`neighbour_pooling=max`:
their number and order do not matter, so a wide radius costs nothing) or laid side by side in their slots (`flat`)."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.windows.batch import Batch
from drivelab.models.features import InputScaler, lane_context, lane_context_size, max_pool_present, present_neighbours
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput

POOLING = ("flat", "max")


class ResidualMLP(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 256, num_layers: int = 3, dropout: float = 0.1,
                 use_neighbours: bool = True, neighbour_steps: int = 1, use_lanes: bool = True,
                 neighbour_pooling: str = "max", **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.use_neighbours, self.use_lanes = use_neighbours, use_lanes
        self.neighbour_steps = min(neighbour_steps, shapes["history_steps"])
        self.scaler = InputScaler(shapes["normalisation"])
        n_features = len(shapes["features"])
        inputs = shapes["history_steps"] * n_features
        if neighbour_pooling not in POOLING:
            raise ValueError(f"model.neighbour_pooling must be one of {', '.join(POOLING)}, got {neighbour_pooling!r}")
        self.neighbour_pooling = neighbour_pooling
        neighbour_inputs = self.neighbour_steps * (n_features + 1)
        if use_neighbours and neighbour_pooling == "max":
            # Each neighbour, seen beside the target's present state, is embedded alone; the embeddings of the present
            # neighbours are max-pooled, so neither their order nor their number matters.
            self.embed_neighbour = nn.Sequential(nn.Linear(neighbour_inputs + n_features, hidden_size), nn.GELU(),
                                                 nn.Linear(hidden_size, hidden_size))
            inputs += hidden_size
        elif use_neighbours:
            inputs += shapes["max_neighbours"] * neighbour_inputs
        if use_lanes:
            inputs += lane_context_size(shapes)
        layers = []
        for _ in range(num_layers):
            layers += [nn.Linear(inputs, hidden_size), nn.GELU(), nn.Dropout(dropout)]
            inputs = hidden_size
        layers.append(nn.Linear(inputs, self.head_features))
        self.net = nn.Sequential(*layers)

    def forward(self, batch: Batch) -> TrajectoryOutput:
        target = self.scaler.target_history(batch)
        inputs = [target.flatten(1)]
        if self.use_neighbours:
            recent = self.scaler.neighbour_history(batch)[:, :, -self.neighbour_steps :].flatten(2)
            if self.neighbour_pooling == "max":
                target_now = target[:, -1]
                beside = torch.cat([recent, target_now[:, None].expand(-1, recent.shape[1], -1)], dim=-1)
                inputs.append(max_pool_present(self.embed_neighbour(beside), present_neighbours(batch)))
            else:
                inputs.append(recent.flatten(1))
        if self.use_lanes:
            inputs.append(lane_context(batch))
        return self.from_head(batch, self.net(torch.cat(inputs, dim=1)), self.scaler.residual_std)
