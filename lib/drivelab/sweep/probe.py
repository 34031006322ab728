"""Which validation metrics a training configuration logs, found by running it on one validation batch.

Metric names depend on the model's task (trajectories log RMSE per horizon, intention models accuracy) and on
experiments' own models, so they are observed rather than listed: the probe builds the data module and the model
exactly as `drivelab train` does and runs one untrained validation batch.
"""

from __future__ import annotations

import logging
import warnings
from typing import List, Tuple

from omegaconf import DictConfig


def validation_metrics(cfg: DictConfig) -> Tuple[bool, List[str]]:
    """(whether the model has anything to train, the sorted names it logs each validation epoch)."""
    import pytorch_lightning as pl
    import torch

    from drivelab.runs.builder import build

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # keep the parent's thread pool cold: sweep workers are forked from this process
    quiet = logging.getLogger("pytorch_lightning")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        datamodule, model = build(cfg)
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.validate(model, datamodule=datamodule, verbose=False)
        return model.is_trainable, sorted(name for name in trainer.callback_metrics if name.startswith("val/"))
    finally:
        quiet.setLevel(level)
        torch.set_num_threads(threads)
