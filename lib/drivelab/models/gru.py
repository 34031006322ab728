"""A recurrent encoder-decoder (GRU or LSTM): target and neighbour histories are encoded by one recurrent encoder,
present neighbours max-pooled, and a recurrent decoder unrolls a correction to constant velocity over the future."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.datamodule import Batch
from drivelab.models.features import InputScaler, encode_present, max_pool_present, present_neighbours
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def last_hidden(rnn: nn.RNNBase, sequences: torch.Tensor) -> torch.Tensor:
    """The top layer's final hidden state of a GRU or LSTM, (n, hidden)."""
    _, state = rnn(sequences)
    hidden = state[0] if isinstance(state, tuple) else state
    return hidden[-1]


class GRUEncoderDecoder(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 64, num_layers: int = 1, use_neighbours: bool = True,
                 cell: str = "gru", **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.use_neighbours = use_neighbours
        self.scaler = InputScaler(shapes["normalisation"])
        n_features = len(shapes["features"])
        # Target and neighbours share an encoder; the extra input is the presence mask (always 1 for the target).
        self.encoder = CELLS[cell](n_features + 1, hidden_size, num_layers=num_layers, batch_first=True)
        context = hidden_size * (2 if use_neighbours else 1)
        self.decoder = CELLS[cell](context + 1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2 * self.num_modes)
        self.mode_head = nn.Linear(context, self.num_modes) if self.num_modes > 1 else None

    def forward(self, batch: Batch) -> TrajectoryOutput:
        agents = self.scaler.agent_histories(batch)  # (batch, 1 + slots, steps, features + 1)
        context = last_hidden(self.encoder, agents[:, 0])
        if self.use_neighbours:
            present = present_neighbours(batch)
            encoded = encode_present(lambda rows: last_hidden(self.encoder, rows), agents[:, 1:], present)
            context = torch.cat([context, max_pool_present(encoded, present)], dim=-1)
        progress = (self.future_times_s / self.future_times_s[-1])[None, :, None].expand(len(context), -1, 1)
        steps = torch.cat([context[:, None, :].expand(-1, self.future_steps, -1), progress], dim=-1)
        decoded, _ = self.decoder(steps)
        residual = self.scaler.residual(self.head(decoded).view(len(context), self.future_steps, self.num_modes, 2))
        positions = self.constant_velocity(batch)[:, None] + residual.transpose(1, 2)
        return self.to_output(positions, self.mode_head(context) if self.mode_head is not None else None)
