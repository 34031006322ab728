"""Reading Lightning checkpoints weights-only: no pickled code runs on load, whoever wrote the file.

A checkpoint that would need arbitrary unpickling, or that is truncated or corrupted, is refused with one line
naming the file.
"""

from __future__ import annotations

from pathlib import Path
import warnings
from typing import Any, Dict

from drivelab.errors import DrivelabError, MissingInputError


class CheckpointError(DrivelabError):
    """A checkpoint that cannot be read safely (needs code to unpickle, truncated, not a checkpoint)."""


def read_checkpoint(checkpoint: Path) -> Dict[str, Any]:
    """The checkpoint's contents, loaded with `weights_only=True` on the CPU."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise MissingInputError(f"checkpoint {checkpoint} not found")
    import torch  # here, not at the top: the train command's preflight imports this module on the config path

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols: the refusal below says what matters
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # the unpickler's refusal, a truncated zip, a file of another kind
        text = str(error)
        if "weights_only" in text or "Unsupported global" in text or "WeightsUnpickler" in text:
            detail = next((line.strip() for line in text.splitlines() if "GLOBAL" in line or "global" in line),
                          text.splitlines()[0])
            raise CheckpointError(f"checkpoint {checkpoint} needs arbitrary code to load ({detail.rstrip('.')}); "
                                  "refused: drivelab loads checkpoints weights-only") from None
        raise CheckpointError(f"checkpoint {checkpoint} cannot be read (truncated or not a checkpoint: "
                              f"{type(error).__name__}: {text.splitlines()[0] if text else ''})") from None
    if not isinstance(state, dict) or "state_dict" not in state:
        raise CheckpointError(f"checkpoint {checkpoint} holds no state_dict: not a Lightning checkpoint")
    return state


def check_checkpoint(path: str) -> Path:
    """A checkpoint to resume from: a local file that loads weights-only (Lightning would unpickle a URL fully)."""
    if "://" in str(path):
        raise CheckpointError(f"ckpt_path={path}: only local checkpoint files are accepted (download it first, then "
                              "pass its path); a remote checkpoint would be loaded with full unpickling")
    read_checkpoint(Path(path))
    return Path(path)


def check_resume(cfg: Any) -> None:
    """`drivelab train`'s preflight: a checkpoint to resume from is checked before a run directory is made."""
    if cfg.get("ckpt_path"):
        check_checkpoint(cfg.ckpt_path)


def saved_hyperparameters(checkpoint: Path) -> Dict[str, Any]:
    return dict(read_checkpoint(checkpoint).get("hyper_parameters") or {})


def load_weights(model: Any, checkpoint: Path) -> None:
    checkpoint = Path(checkpoint)
    state = read_checkpoint(checkpoint)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as error:  # names and shapes differ: saved by another version or configuration of the model
        lines = str(error).splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]  # the first mismatch, below torch's headline
        raise DrivelabError(f"checkpoint {checkpoint} does not fit {type(model).__name__} as built now "
                            f"(saved by an older version of the model or another configuration): {detail}") from None
