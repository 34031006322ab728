"""A recurrent encoder-decoder (GRU or LSTM): target and neighbour histories are encoded by one recurrent encoder,
present neighbours max-pooled, and a recurrent decoder unrolls a correction to constant velocity over the future."""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from drivelab.data.windows.batch import Batch
from drivelab.models.features import (InputScaler, encode_present, lane_context, lane_context_size, max_pool_present,
                                      present_neighbours)
from drivelab.models.trajectory import TrajectoryModel, TrajectoryOutput

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def last_hidden(rnn: nn.RNNBase, sequences: torch.Tensor) -> torch.Tensor:
    """The top layer's final hidden state of a GRU or LSTM, (n, hidden)."""
    _, state = rnn(sequences)
    hidden = state[0] if isinstance(state, tuple) else state
    return hidden[-1]


class GRUEncoderDecoder(TrajectoryModel):
    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 64, num_layers: int = 1, use_neighbours: bool = True,
                 cell: str = "gru", use_lanes: bool = True, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.use_neighbours, self.use_lanes = use_neighbours, use_lanes
        self.scaler = InputScaler(shapes["normalisation"])
        n_features = len(shapes["features"])
        # Target and neighbours share an encoder; the extra input is the presence mask (always 1 for the target).
        self.encoder = CELLS[cell](n_features + 1, hidden_size, num_layers=num_layers, batch_first=True)
        # The context is the target's encoding, its raw history (the exact recent motion a summary may blur), the
        # pooled neighbours and the lane context.
        context = hidden_size * (2 if use_neighbours else 1) + shapes["history_steps"] * n_features
        context += lane_context_size(shapes) if use_lanes else 0
        # A neighbour's encoding is read beside the target's present state before pooling, so that what survives
        # the max-pool can be relative (closing speed, gap) rather than absolute.
        self.relate = nn.Sequential(nn.Linear(hidden_size + n_features, hidden_size), nn.GELU()) if use_neighbours else None
        self.decoder = CELLS[cell](context + 1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2 * self.num_modes)
        self.mode_head = nn.Linear(context, self.num_modes) if self.num_modes > 1 else None

    def forward(self, batch: Batch) -> TrajectoryOutput:
        agents = self.scaler.agent_histories(batch)  # (batch, 1 + slots, steps, features + 1)
        context = torch.cat([last_hidden(self.encoder, agents[:, 0]), agents[:, 0, :, :-1].flatten(1)], dim=-1)
        if self.use_neighbours:
            present = present_neighbours(batch)
            encoded = encode_present(lambda rows: last_hidden(self.encoder, rows), agents[:, 1:], present)
            target_now = agents[:, :1, -1, :-1].expand(-1, encoded.shape[1], -1)
            related = self.relate(torch.cat([encoded, target_now], dim=-1))
            context = torch.cat([context, max_pool_present(related, present)], dim=-1)
        if self.use_lanes:
            context = torch.cat([context, lane_context(batch)], dim=-1)
        n_windows = context.shape[0]  # not len(): an exported graph keeps the batch size symbolic
        progress = (self.future_times_s / self.future_times_s[-1])[None, :, None].expand(n_windows, -1, 1)
        steps = torch.cat([context[:, None, :].expand(-1, self.future_steps, -1), progress], dim=-1)
        decoded, _ = self.decoder(steps)
        # The correction grows from zero at the present: scaled by the step's share of the horizon, so the first
        # steps are not left with a residual-sized error.
        scaled = self.head(decoded).view(n_windows, self.future_steps, self.num_modes, 2) * progress[..., None]
        residual = self.scaler.residual(scaled)
        positions = self.constant_velocity(batch)[:, None] + residual.transpose(1, 2)
        return self.to_output(positions, self.mode_head(context) if self.mode_head is not None else None)
