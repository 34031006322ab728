"""Model inputs scaled with the training split's statistics (stored with the data version), and the small pieces
every neighbour-aware model shares: the agents' histories as one tensor and pooling over present neighbours."""

from __future__ import annotations

from typing import Any, Dict

import torch

from drivelab.data.windows.batch import Batch


class InputScaler(torch.nn.Module):
    """Standardises history features and scales residual targets; buffers travel inside the checkpoint."""

    def __init__(self, normalisation: Dict[str, Any]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(normalisation["history_mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(normalisation["history_std"], dtype=torch.float32))
        self.register_buffer("residual_std", torch.tensor(normalisation["residual_std"], dtype=torch.float32))

    def target_history(self, batch: Batch) -> torch.Tensor:
        return (batch["history"] - self.mean) / self.std

    def neighbour_history(self, batch: Batch) -> torch.Tensor:
        """Neighbour features, zero where absent, with the mask appended as a last feature."""
        mask = batch["neighbour_mask"].unsqueeze(-1).to(batch["neighbours"].dtype)
        scaled = (batch["neighbours"] - self.mean) / self.std * mask
        return torch.cat([scaled, mask], dim=-1)

    def agent_histories(self, batch: Batch) -> torch.Tensor:
        """Target first, then the neighbour slots: (batch, 1 + slots, steps, features + 1), last feature = presence."""
        target = self.target_history(batch)
        target = torch.cat([target, torch.ones_like(target[..., :1])], dim=-1)
        return torch.cat([target[:, None], self.neighbour_history(batch)], dim=1)

    def residual(self, scaled_residual: torch.Tensor) -> torch.Tensor:
        return scaled_residual * self.residual_std


def lane_context(batch: Batch) -> torch.Tensor:
    """What the target's lanes say, (batch, history_steps + 2): its lane at every history step relative to its present
    lane (negative = further left, so a lane change in progress or just made shows), and whether a lane exists to its
    left and to its right now (a driver cannot change into a lane that is not there). Future lanes are never read.
    All zeros for a window whose history lanes are unknown (a source without lanes): it says nothing either way."""
    history_lanes = batch["lane"][:, : batch["history"].shape[1]]
    known = (history_lanes >= 0).all(dim=1, keepdim=True)
    lanes = history_lanes.to(torch.float32)
    present = lanes[:, -1:]
    count = batch["lane_count"].to(torch.float32)[:, None]
    has_left = (known & (present > 0)).to(torch.float32)
    has_right = (known & (present < count - 1)).to(torch.float32)
    return torch.cat([torch.where(known, lanes - present, torch.zeros_like(lanes)), has_left, has_right], dim=1)


def lane_context_size(shapes: Dict[str, Any]) -> int:
    return shapes["history_steps"] + 2


def present_neighbours(batch: Batch) -> torch.Tensor:
    """(batch, slots) bool: the neighbour is there at the present time step."""
    return batch["neighbour_mask"][:, :, -1]


def max_pool_present(encoded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Max over the slots that are present, (batch, slots, features) -> (batch, features); zeros when none is."""
    pooled = torch.where(present[..., None], encoded, torch.full_like(encoded, -1e4)).amax(dim=1)
    return torch.where(present.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


def encode_present(encode, sequences: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """`encode` ((n, steps, inputs) -> (n, hidden)) applied only to the present slots of (batch, slots, steps, inputs);
    absent slots get zeros. Most slots are empty on a highway, so this saves most of a recurrent encoder's time."""
    n_batch, n_slots = present.shape
    flat = sequences.reshape(n_batch * n_slots, *sequences.shape[2:])
    if torch.compiler.is_exporting():
        # An exported graph has static shapes per batch: encode every slot and zero the absent ones (same values for
        # the present slots; a row count that depends on the data would also break a batch with no neighbours).
        encoded = encode(flat) * present.reshape(-1, 1).to(flat.dtype)
        return encoded.view(n_batch, n_slots, -1)
    rows = present.reshape(-1).nonzero().squeeze(1)
    encoded = encode(flat.index_select(0, rows))
    out = encoded.new_zeros(n_batch * n_slots, encoded.shape[-1]).index_copy(0, rows, encoded)
    return out.view(n_batch, n_slots, -1)
