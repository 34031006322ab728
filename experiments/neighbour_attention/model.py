"""Neighbour attention: the target's recurrent encoding asks (as the query) which present neighbours matter, and
an attention-weighted sum of their encodings replaces the GRU encoder-decoder's max-pool. Decoded by an MLP into a
correction to constant velocity, with everything else (loss, metrics, optimiser) from drivelab's trajectory task."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.config.registry import configurable
from drivelab.models.features import InputScaler, encode_present, present_neighbours
from drivelab.models.gru import last_hidden
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput


@configurable
class NeighbourAttention(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 64, num_heads: int = 4, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.scaler = InputScaler(shapes["normalisation"])
        self.encoder = nn.GRU(len(shapes["features"]) + 1, hidden_size, batch_first=True)
        self.attention = nn.MultiheadAttention(hidden_size, num_heads, batch_first=True)
        self.decode = nn.Sequential(nn.Linear(2 * hidden_size, 4 * hidden_size), nn.GELU(),
                                    nn.Linear(4 * hidden_size, self.head_features))

    def forward(self, batch: Dict[str, torch.Tensor]) -> TrajectoryOutput:
        agents = self.scaler.agent_histories(batch)  # target first, then neighbour slots
        present = present_neighbours(batch)
        target = last_hidden(self.encoder, agents[:, 0])[:, None]
        neighbours = encode_present(lambda rows: last_hidden(self.encoder, rows), agents[:, 1:], present)
        # The target attends to itself too, so a window without neighbours still has something to attend to.
        keys = torch.cat([target, neighbours], dim=1)
        ignore = torch.cat([torch.zeros_like(present[:, :1]), ~present], dim=1)
        attended, _ = self.attention(target, keys, keys, key_padding_mask=ignore, need_weights=False)
        context = torch.cat([target[:, 0], attended[:, 0]], dim=-1)
        return self.from_head(batch, self.decode(context), self.scaler.residual_std)
