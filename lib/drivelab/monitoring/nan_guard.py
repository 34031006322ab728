"""NanGuard: stop training at the first non-finite loss or gradient, before the optimizer writes it into the
weights, and say where it came from.

Per optimizer step it costs one fused norm over the gradients and one device-to-host read of a single flag (no
`detect_anomaly`, which re-runs autograd with checks on every op). Only when the flag trips does it look closer:
the first parameter or gradient that is non-finite (in the model's parameter order), the windows of the batch (by
recording and vehicle id) whose inputs or outputs are non-finite, and the last good checkpoint (never overwritten:
training stops before the next save). It writes `non_finite.json`, records it in the manifest and raises
`NonFiniteTrainingError`, so the command exits non-zero.

`nan_at_step` (`fault.nan_at_step=N`) multiplies the training loss of step N by NaN, to exercise all of this.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytorch_lightning as pl
import torch

from drivelab.errors import DrivelabError
from drivelab.monitoring import records
from drivelab.runs.directory import MANIFEST_FILE, RunDirectory

WINDOWS_NAMED = 5  # offending windows named in the message (all of them go to non_finite.json)


class NonFiniteTrainingError(DrivelabError):
    """Training stopped: the loss or a gradient became NaN or infinite."""


class NanGuard(pl.Callback):
    def __init__(self, nan_at_step: Optional[int] = None) -> None:
        super().__init__()
        self.nan_at_step = nan_at_step
        self._loss: Optional[torch.Tensor] = None
        self._batch: Any = None
        self._batch_idx = -1
        self._scaled_gradients = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # With a gradient scaler (16-bit mixed precision) an overflowing step is expected: the scaler skips it.
        self._scaled_gradients = getattr(trainer.precision_plugin, "scaler", None) is not None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._batch, self._batch_idx = batch, batch_idx  # references only; looked at when something is wrong
        if self.nan_at_step is not None and trainer.global_step == self.nan_at_step:
            _poison_next_loss(pl_module)

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        self._loss = loss.detach()

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        loss = self._loss
        grads = [] if self._scaled_gradients else \
            [p.grad.detach() for p in pl_module.parameters() if p.grad is not None]
        parts = [loss.float().reshape(1)] if loss is not None else []
        if grads:
            parts.append(torch.stack(torch._foreach_norm(grads)).float().sum().reshape(1))
        if not parts:
            return
        if bool(torch.isfinite(torch.cat(parts)).all()):  # the one host read per step
            return
        self._stop(trainer, pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._batch = None  # do not keep a batch alive between steps

    # -- when the flag trips --------------------------------------------------------------------------------------
    def _stop(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss_value = float(self._loss) if self._loss is not None else None
        first = first_non_finite(pl_module)
        windows = offending_windows(self._batch, pl_module, _recording_ids(trainer))
        checkpoint = last_good_checkpoint(trainer)
        record = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "batch_index": self._batch_idx,
            "loss": loss_value if loss_value is None or math.isfinite(loss_value) else str(loss_value),
            "first_non_finite": first,
            "windows": windows,
            "last_good_checkpoint": checkpoint,
            "injected": self.nan_at_step == trainer.global_step,
        }
        message = describe(record)
        record["message"] = message
        run_dir = Path(trainer.default_root_dir)
        if trainer.is_global_zero:
            records.write_non_finite(run_dir, _json_safe(record))
            if (run_dir / MANIFEST_FILE).is_file():
                RunDirectory(run_dir).update_manifest(non_finite=_json_safe(record))
        raise NonFiniteTrainingError(message)


def describe(record: Dict[str, Any]) -> str:
    """One line: where training went non-finite and what is kept."""
    loss = record.get("loss")
    what = f"non-finite loss ({loss})" if isinstance(loss, str) else "non-finite gradient"
    first = record.get("first_non_finite")
    culprit = f"; first non-finite {first['kind']}: {first['name']}" if first else ""
    windows = record.get("windows") or {}
    named = ", ".join(windows.get("named") or [])
    more = windows.get("count", 0) - len(windows.get("named") or [])
    which = f" ({windows.get('reason')}: {named}{f' and {more} more' if more > 0 else ''})" if named else ""
    kept = record.get("last_good_checkpoint")
    return (f"{what} at step {record['step']} (epoch {record['epoch']}, batch {record['batch_index']}){which}"
            f"{culprit}; training stopped before the optimizer step"
            + (f"; last good checkpoint kept: {kept}" if kept else "; no checkpoint was saved before it")
            + (" [injected by fault.nan_at_step]" if record.get("injected") else ""))


def first_non_finite(module: torch.nn.Module) -> Optional[Dict[str, str]]:
    """The first parameter, else the first gradient, holding a NaN or infinity, in the model's parameter order."""
    named = list(module.named_parameters())
    for name, parameter in named:
        if not bool(torch.isfinite(parameter.detach()).all()):
            return {"kind": "parameter", "name": name}
    for name, parameter in named:
        if parameter.grad is not None and not bool(torch.isfinite(parameter.grad.detach()).all()):
            return {"kind": "gradient", "name": name}
    return None


def offending_windows(batch: Any, module: torch.nn.Module, recording_ids: List[str]) -> Dict[str, Any]:
    """Which windows of the batch to blame: those with non-finite inputs, else those whose output is non-finite,
    else (the loss alone went bad) every window; each as '<recording>/<vehicle>'."""
    if not isinstance(batch, dict) or not batch:
        return {}
    size = next((v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor) and v.dim()), 0)
    bad = torch.zeros(size, dtype=torch.bool)
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() and value.is_floating_point() and value.shape[0] == size:
            bad |= ~torch.isfinite(value.detach().reshape(size, -1)).all(dim=1).cpu()
    reason = "non-finite inputs"
    if not bool(bad.any()):
        reason = "non-finite outputs"
        try:
            with torch.no_grad():
                output = module(batch)
            if isinstance(output, torch.Tensor) and output.dim() and output.shape[0] == size:
                bad = ~torch.isfinite(output.detach().reshape(size, -1)).all(dim=1).cpu()
        except Exception:  # a model that cannot be called on the batch alone: fall back to the whole batch
            pass
    if not bool(bad.any()):
        reason, bad = "every window of the batch", torch.ones(size, dtype=torch.bool)
    rows = torch.nonzero(bad).flatten().tolist()
    names = [window_name(batch, row, recording_ids) for row in rows]
    return {"reason": reason, "count": len(rows), "named": names[:WINDOWS_NAMED], "all": names}


def window_name(batch: Dict[str, torch.Tensor], row: int, recording_ids: List[str]) -> str:
    recording = batch.get("recording")
    vehicle = batch.get("track_id")
    rec = int(recording[row]) if recording is not None else None
    rec_name = recording_ids[rec] if rec is not None and 0 <= rec < len(recording_ids) else rec
    return f"recording {rec_name} vehicle {int(vehicle[row]) if vehicle is not None else '?'}"


def _recording_ids(trainer: pl.Trainer) -> List[str]:
    info = getattr(getattr(trainer, "datamodule", None), "info", None) or {}
    return [str(r) for r in info.get("recordings", [])]


def last_good_checkpoint(trainer: pl.Trainer) -> Optional[str]:
    callback = trainer.checkpoint_callback
    path = (getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")) if callback else ""
    return str(path) if path and Path(path).is_file() else None


def _poison_next_loss(module: pl.LightningModule) -> None:
    """Make the module's next training step return its loss times NaN (then restore the method)."""
    original = module.training_step

    def poisoned(*args: Any, **kwargs: Any) -> Any:
        del module.training_step  # back to the class's own method
        output = original(*args, **kwargs)
        if isinstance(output, dict):
            return {**output, "loss": output["loss"] * float("nan")}
        return output * float("nan")

    module.training_step = poisoned  # type: ignore[method-assign]


def _json_safe(record: Dict[str, Any]) -> Dict[str, Any]:
    return json.loads(json.dumps(record, default=str))
