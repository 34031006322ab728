"""The task-agnostic base of every model: training loop, metric logging and optimiser wiring.

A task (trajectory prediction in `trajectory.py`, lane-change intention in `intention.py`) subclasses `TaskModel` and
declares its loss, its metric set and how a batch updates those metrics; a model of that task implements
`forward(batch)`. Nothing here assumes what a prediction or a metric looks like: metrics are logged as
`{stage}/{name}` for whatever names the task's metric set reports.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Tuple

import pytorch_lightning as pl
import torch

from drivelab.config.registry import instantiate
from drivelab.data.windows.batch import Batch

STAGES = ("val", "test")


class MetricSet(torch.nn.ModuleDict):
    """Named torchmetrics whose `compute()` each return a dict; together they report one flat dict."""

    def compute(self) -> Dict[str, float]:
        merged: Dict[str, float] = {}
        for metric in self.values():
            merged.update(metric.compute())
        return merged

    def reset(self) -> None:
        for metric in self.values():
            metric.reset()


def clip_gradients_by_norm(gradients: List[torch.Tensor], max_norm: float) -> float:
    """Rescale `gradients` in place so that their global 2-norm is at most `max_norm`; returns the norm before.
    Same result as `torch.nn.utils.clip_grad_norm_` (up to float rounding), but gradients within the limit are not
    touched at all."""
    total = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gradients))))
    if total > max_norm:
        torch._foreach_mul_(gradients, max_norm / (total + 1e-6))
    return total


class TaskModel(pl.LightningModule):
    task: ClassVar[str] = ""  # the task's name; models of one task are comparable with each other
    monitor: ClassVar[Tuple[str, str]] = ("loss", "min")  # the validation metric that judges a model, and its mode

    def __init__(self, shapes: Dict[str, Any], optimizer: Optional[Dict[str, Any]] = None,
                 scheduler: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        # Plain types only: checkpoints must stay loadable with torch.load(weights_only=True).
        self.save_hyperparameters()
        self.shapes = shapes
        self.last_metrics: Dict[str, Dict[str, float]] = {}

    def setup_metrics(self) -> None:
        """Build the val/test metric sets; a task calls this once its own attributes exist."""
        self.metrics = torch.nn.ModuleDict({stage: self.make_metrics() for stage in STAGES})

    # The task's contract.
    def loss(self, output: Any, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def make_metrics(self, **options: Any) -> MetricSet:
        """The task's metric set; `options` go to every torchmetrics Metric (e.g. sync_on_compute=False)."""
        raise NotImplementedError

    def update_metrics(self, metrics: MetricSet, output: Any, batch: Batch) -> None:
        raise NotImplementedError

    @property
    def is_trainable(self) -> bool:
        return any(parameter.requires_grad for parameter in self.parameters())

    @staticmethod
    def batch_size(batch: Batch) -> int:
        return len(batch["history"])

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(self(batch), batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=self.batch_size(batch))
        return loss

    def _evaluate(self, stage: str, batch: Batch) -> None:
        output = self(batch)
        self.update_metrics(self.metrics[stage], output, batch)
        self.log(f"{stage}/loss", self.loss(output, batch), on_epoch=True, batch_size=self.batch_size(batch),
                 sync_dist=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def _log_epoch_metrics(self, stage: str) -> None:
        metrics = self.metrics[stage].compute()
        self.metrics[stage].reset()
        self.last_metrics[stage] = metrics
        for name, value in metrics.items():
            # Values are already reduced over all ranks by torchmetrics; sync_dist only silences Lightning.
            self.log(f"{stage}/{name}", value, prog_bar=name == self.monitor[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: Any = None,
                                    gradient_clip_algorithm: Optional[str] = None) -> None:
        """`trainer.gradient_clip_val` by global norm, as Lightning does, in fewer tensor operations on CPU: one
        norm over all gradients and a rescale only when it exceeds the limit (Lightning's `clip_grad_norm_`
        rescales every gradient at every step; ~0.8 ms per CPU step, benchmarks/training_step.py)."""
        gradients = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if (not gradient_clip_val or gradient_clip_algorithm not in (None, "norm") or not gradients
                or any(g.device.type != "cpu" or g.is_sparse for g in gradients)):
            return super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
        clip_gradients_by_norm(gradients, float(gradient_clip_val))

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

