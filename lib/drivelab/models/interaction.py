"""An interaction model: every agent's history becomes one token, and a small transformer encoder lets the target
and its present neighbours attend to each other (absent neighbours are masked out of attention). The target's token
is decoded by an MLP into a correction to constant velocity (K of them with mode probabilities if num_modes > 1)."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.windows.batch import Batch
from drivelab.models.features import InputScaler, lane_context, lane_context_size, present_neighbours
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput


class InteractionTransformer(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], d_model: int = 64, num_heads: int = 4, num_layers: int = 2,
                 dropout: float = 0.0, hidden_size: int = 256, use_lanes: bool = True, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.use_lanes = use_lanes
        self.scaler = InputScaler(shapes["normalisation"])
        token_inputs = shapes["history_steps"] * (len(shapes["features"]) + 1)
        self.embed = nn.Sequential(nn.Linear(token_inputs, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.role = nn.Embedding(2, d_model)  # 0 = target, 1 = neighbour
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        context = 2 * d_model + (lane_context_size(shapes) if use_lanes else 0)
        self.decode = nn.Sequential(nn.Linear(context, hidden_size), nn.GELU(),
                                    nn.Linear(hidden_size, self.head_features))

    def forward(self, batch: Batch) -> TrajectoryOutput:
        agents = self.scaler.agent_histories(batch)  # (batch, 1 + slots, steps, features + 1)
        tokens = self.embed(agents.flatten(2))
        roles = torch.ones(tokens.shape[1], dtype=torch.long, device=tokens.device)
        roles[0] = 0
        tokens = tokens + self.role(roles)[None]
        present = torch.cat([torch.ones_like(present_neighbours(batch)[:, :1]), present_neighbours(batch)], dim=1)
        attended = self.encoder(tokens, src_key_padding_mask=~present)
        # The target's raw token keeps its own motion next to what it learned from the others.
        context = torch.cat([tokens[:, 0], attended[:, 0]], dim=-1)
        if self.use_lanes:
            context = torch.cat([context, lane_context(batch)], dim=-1)
        return self.from_head(batch, self.decode(context), self.scaler.residual_std)
