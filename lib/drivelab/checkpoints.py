"""Loading model weights from Lightning checkpoints, weights-only (no pickled code runs on load)."""

from __future__ import annotations

from pathlib import Path

import torch

from drivelab.errors import DrivelabError, MissingInputError


def load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise MissingInputError(f"checkpoint {checkpoint} not found")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as error:  # names and shapes differ: saved by another version or configuration of the model
        lines = str(error).splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]  # the first mismatch, below torch's headline
        raise DrivelabError(f"checkpoint {checkpoint} does not fit {type(model).__name__} as built now "
                            f"(saved by an older version of the model or another configuration): {detail}") from None
