"""What a checkpoint must carry beyond weights and trainer state for a resumed run to end exactly as an
uninterrupted one: Python, numpy and torch random states, and how far into its epoch the run was (the data module's
sampler starts a resumed epoch there instead of at its beginning)."""

from __future__ import annotations

import random
from typing import Any, Dict, Optional

import numpy as np
import pytorch_lightning as pl
import torch

STATE_KEY = "drivelab_resume"


class ResumeState(pl.Callback):
    """Saves the random states and the position in the epoch into every checkpoint; on resume, hands the position to
    the data module's sampler and restores the random states just before the first batch."""

    def __init__(self) -> None:
        self._pending_random_state: Optional[Dict[str, Any]] = None

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: Dict[str, Any]) -> None:
        for logger in trainer.loggers:  # what was logged up to a checkpoint is on disk with it (CSV buffers rows)
            logger.save()
        checkpoint[STATE_KEY] = {
            "random": random_state(),
            "epoch": trainer.current_epoch,
            # Batches of this epoch already trained: Lightning counts a batch processed before its end-of-batch hooks
            # (where step checkpoints are written) run, and at an epoch's end it equals the batches per epoch.
            "batches_done": trainer.fit_loop.epoch_loop.batch_progress.current.processed,
            "batches_per_epoch": trainer.num_training_batches,
        }

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: Dict[str, Any]) -> None:
        state = checkpoint.get(STATE_KEY)
        if not state:
            return
        self._pending_random_state = state["random"]
        epoch, done = int(state["epoch"]), int(state["batches_done"])
        if done >= int(state["batches_per_epoch"]):
            epoch, done = epoch + 1, 0  # saved at the end of an epoch: the next one starts from its beginning
        datamodule = trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "resume_position"):
            datamodule.resume_position = (epoch, done)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._pending_random_state is not None:
            set_random_state(self._pending_random_state)
            self._pending_random_state = None


def random_state() -> Dict[str, Any]:
    """Every random stream training draws from, as plain types and tensors (weights-only loading accepts them)."""
    version, internal, gauss_next = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss_next],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: Dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
