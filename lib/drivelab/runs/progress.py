"""The training progress bar: Lightning's Rich bar, drawn every `refresh_s` seconds rather than at every step.

Lightning's default bar formats the step's metrics and redraws at every training batch, and its Rich display
refreshes from a background thread 100 times a second; on a CPU step of a few milliseconds that alone cost ~1.8 ms
(measured by `benchmarks/training_step.py`). Progress shown twice a second reads the same to a person.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """Rich progress bar that updates its training row at most every `refresh_s` seconds (and at an epoch's last
    batch); validation and test rows as Lightning draws them."""

    def __init__(self, refresh_s: float = 0.5, leave: bool = False,
                 console_kwargs: Optional[Dict[str, Any]] = None) -> None:
        if refresh_s < 0:
            raise ValueError(f"refresh_s must be >= 0, got {refresh_s}")
        # Lightning's refresh_rate is the display thread's redraws per second.
        super().__init__(refresh_rate=max(1, round(1 / refresh_s)) if refresh_s else 100, leave=leave,
                         console_kwargs=console_kwargs)
        self.refresh_s = refresh_s
        self.updates = 0  # training-row updates drawn (for tests and curiosity)
        self._updated_at = float("-inf")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now = time.monotonic()
        last_batch = batch_idx + 1 >= self.total_train_batches
        if now - self._updated_at < self.refresh_s and not last_batch:
            return
        self._updated_at = now
        self.updates += 1
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
