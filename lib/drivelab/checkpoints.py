"""Loading model weights from Lightning checkpoints, weights-only (no pickled code runs on load)."""

from __future__ import annotations

from pathlib import Path

import torch

from drivelab.errors import MissingInputError


def load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise MissingInputError(f"checkpoint {checkpoint} not found")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state["state_dict"])
