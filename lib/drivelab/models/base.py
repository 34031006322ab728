"""The shared base of trajectory predictors: loss, metrics, logging and optimiser wiring.

A model implements `forward(batch) -> (batch, future_steps, 2)` positions in the target-centric frame; everything
else (what is logged, under which name, how optimisers are built from config) lives here once.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytorch_lightning as pl
import torch

from drivelab.config.targets import instantiate
from drivelab.data.datamodule import Batch
from drivelab.metrics import TrajectoryMetrics


class TrajectoryModel(pl.LightningModule):
    def __init__(self, shapes: Dict[str, Any], optimizer: Optional[Dict[str, Any]] = None,
                 scheduler: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        # Plain types only: checkpoints must stay loadable with torch.load(weights_only=True).
        self.save_hyperparameters()
        self.shapes = shapes
        self.future_steps, self.sample_hz = shapes["future_steps"], shapes["sample_hz"]
        self.register_buffer("future_times_s", torch.arange(1, self.future_steps + 1, dtype=torch.float32) / self.sample_hz)
        self.metrics = torch.nn.ModuleDict({
            stage: TrajectoryMetrics(self.future_steps, self.sample_hz) for stage in ("val", "test")
        })
        self.last_metrics: Dict[str, Dict[str, float]] = {}

    @property
    def is_trainable(self) -> bool:
        return any(parameter.requires_grad for parameter in self.parameters())

    def constant_velocity(self, batch: Batch) -> torch.Tensor:
        """The physics prior most models correct: hold the present velocity."""
        velocity = batch["history"][:, -1, 2:4]
        return velocity[:, None, :] * self.future_times_s[None, :, None]

    def loss(self, pred: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean squared displacement over all future points (what RMSE measures)."""
        return ((pred - batch["future"]) ** 2).sum(dim=-1).mean()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(self(batch), batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["future"]))
        return loss

    def _evaluate(self, stage: str, batch: Batch) -> None:
        pred = self(batch)
        self.metrics[stage].update(pred, batch["future"])
        self.log(f"{stage}/loss", self.loss(pred, batch), on_epoch=True, batch_size=len(batch["future"]), sync_dist=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def _log_epoch_metrics(self, stage: str) -> None:
        metrics = self.metrics[stage].compute()
        self.metrics[stage].reset()
        self.last_metrics[stage] = metrics
        for name, value in metrics.items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "rmse_5s", sync_dist=True)  # equal on all ranks already

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def configure_optimizers(self) -> Any:
        if not self.is_trainable:
            return None
        if not self.hparams.optimizer:
            raise ValueError(f"{type(self).__name__} has parameters but no model.optimizer is configured")
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler)(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def build_model(config: Any, shapes: Dict[str, Any]) -> TrajectoryModel:
    """A model from its config; nested optimizer/scheduler configs stay plain dicts until training starts."""
    return instantiate(config, _recursive_=False, _convert_="all", shapes=shapes)
