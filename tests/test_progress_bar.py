"""The training progress bar redraws on a clock, not at every step (a per-step redraw cost milliseconds on CPU)."""

from __future__ import annotations

import pytorch_lightning as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from drivelab.runs.progress import ProgressBar


class TinyRegression(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        loss = torch.nn.functional.mse_loss(self.layer(inputs), targets)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def updates_in_one_epoch(bar: ProgressBar, tmp_path, batches: int = 20) -> int:
    data = TensorDataset(torch.randn(batches * 4, 3), torch.randn(batches * 4, 1))
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_model_summary=False,
                         callbacks=[bar], default_root_dir=str(tmp_path), accelerator="cpu")
    trainer.fit(TinyRegression(), DataLoader(data, batch_size=4))
    return bar.updates


def test_the_training_row_is_drawn_at_the_first_and_last_batch_when_the_clock_has_not_run_out(tmp_path):
    assert updates_in_one_epoch(ProgressBar(refresh_s=3600), tmp_path) == 2


def test_refresh_s_zero_draws_every_batch_and_a_negative_interval_is_refused(tmp_path):
    assert updates_in_one_epoch(ProgressBar(refresh_s=0), tmp_path) == 20
    with pytest.raises(ValueError, match="refresh_s"):
        ProgressBar(refresh_s=-1)
