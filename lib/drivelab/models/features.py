"""Model inputs scaled with the training split's statistics (stored with the data version)."""

from __future__ import annotations

from typing import Any, Dict

import torch

from drivelab.data.datamodule import Batch


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

    def residual(self, scaled_residual: torch.Tensor) -> torch.Tensor:
        return scaled_residual * self.residual_std
