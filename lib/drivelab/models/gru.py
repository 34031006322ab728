"""A GRU encoder-decoder: target and neighbour histories are encoded by one GRU, neighbours max-pooled, and a GRU
decoder unrolls a correction to constant velocity over the future."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.datamodule import Batch
from drivelab.models.base import TrajectoryModel
from drivelab.models.features import InputScaler


class GRUEncoderDecoder(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 64, num_layers: int = 1, use_neighbours: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.use_neighbours = use_neighbours
        self.scaler = InputScaler(shapes["normalisation"])
        n_features = len(shapes["features"])
        # Target and neighbours share an encoder; the extra input is the presence mask (always 1 for the target).
        self.encoder = nn.GRU(n_features + 1, hidden_size, num_layers=num_layers, batch_first=True)
        context = hidden_size * (2 if use_neighbours else 1)
        self.decoder = nn.GRU(context + 1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def encode(self, sequences: torch.Tensor) -> torch.Tensor:
        _, hidden = self.encoder(sequences)
        return hidden[-1]

    def forward(self, batch: Batch) -> torch.Tensor:
        target = self.scaler.target_history(batch)
        target = torch.cat([target, torch.ones_like(target[..., :1])], dim=-1)
        context = self.encode(target)
        if self.use_neighbours:
            neighbours = self.scaler.neighbour_history(batch)  # (batch, slots, steps, features + 1)
            n_batch, n_slots, n_steps, n_inputs = neighbours.shape
            encoded = self.encode(neighbours.reshape(n_batch * n_slots, n_steps, n_inputs)).view(n_batch, n_slots, -1)
            present = batch["neighbour_mask"][:, :, -1:]
            pooled = torch.where(present, encoded, torch.full_like(encoded, -1e4)).amax(dim=1)
            pooled = torch.where(present.any(dim=1), pooled, torch.zeros_like(pooled))
            context = torch.cat([context, pooled], dim=-1)
        progress = (self.future_times_s / self.future_times_s[-1])[None, :, None].expand(len(context), -1, 1)
        steps = torch.cat([context[:, None, :].expand(-1, self.future_steps, -1), progress], dim=-1)
        decoded, _ = self.decoder(steps)
        return self.constant_velocity(batch) + self.scaler.residual(self.head(decoded))
