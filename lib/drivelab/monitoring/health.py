"""TrainingHealth: a Lightning callback cheap enough to leave on, that tells whether a run is healthy while it runs.

Per step it only reads the host clock (no device sync): the time between the end of one step and the start of the
next is the wait for the data loader, the rest is the step. Every `every_n_steps` steps it turns those into figures
(samples/s, step time p50/p99, the data-wait share), adds process memory (RssAnon, RssFile), CPU use, GPU memory and
utilisation on a GPU, and the gradient norm with the largest per-parameter norm (one device sync per N steps), logs
them as `health/<figure>` to every logger, and keeps them for `health.json` + `health.png` in the run directory.
On a GPU the host clock runs ahead of the device by at most the queued work, which evens out over N steps.
"""

from __future__ import annotations

import time
import traceback
from array import array
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytorch_lightning as pl
import torch

from drivelab import lineage, resources
from drivelab.monitoring import records
from drivelab.monitoring.verdict import DATA_BOUND_SHARE, problems, verdict
from drivelab.monitoring.watchdog import StallWatchdog

ENDED_NOT_FAILED = {"TrialPruned": "pruned", "KeyboardInterrupt": "interrupted"}  # exceptions that are no failure
WRITE_EVERY_S = 30.0  # health.json is rewritten at most this often while training (a killed run keeps recent figures)


def batch_size(batch: Any) -> int:
    """Windows in a batch (a dict or sequence of tensors, first dimension), read from shapes: no sync."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    values = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for value in values:
        if isinstance(value, torch.Tensor) and value.dim():
            return int(value.shape[0])
    return 0


def gradient_norms(module: torch.nn.Module) -> Optional[Dict[str, Any]]:
    """Total gradient norm and the largest per-parameter one with its name, in one device-to-host transfer."""
    named = [(name, p.grad) for name, p in module.named_parameters() if p.grad is not None]
    if not named:
        return None
    grads = [grad.detach() for _, grad in named]
    norms = torch.stack(torch._foreach_norm(grads) if hasattr(torch, "_foreach_norm")
                        else [torch.linalg.vector_norm(g) for g in grads]).float()
    total, largest, index = torch.stack([torch.linalg.vector_norm(norms), norms.max(),
                                         norms.argmax().float()]).tolist()
    return {"grad_norm": total, "grad_norm_max": largest, "grad_norm_max_param": named[int(index)][0]}


class TrainingHealth(pl.Callback):
    """Training figures every `every_n_steps` steps to the loggers; `health.json` (figures, summary, one-line
    verdict) and `health.png` in the run directory; a stall warning after `stall_after_s` without a step (0: off).
    `data_bound_share`: the data-wait share above which the verdict calls the run data-bound."""

    def __init__(self, every_n_steps: int = 50, stall_after_s: float = 300.0,
                 data_bound_share: float = DATA_BOUND_SHARE, plot: bool = True) -> None:
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"callbacks.training_health.every_n_steps={every_n_steps} must be at least 1")
        self.every_n_steps = int(every_n_steps)
        self.data_bound_share = float(data_bound_share)
        self.plot = plot
        self.watchdog = StallWatchdog(stall_after_s, on_stall=self._stalled)
        self.history: List[Dict[str, Any]] = []
        self.stalls: List[Dict[str, Any]] = []
        self._step_s = array("d")  # every step's wall time, waiting included
        self._wait_s = array("d")  # of which waiting for the data loader
        self._step_samples = array("q")  # windows in each step's batch
        self._samples = 0
        self._window_start = 0  # index into _step_s where the current figure window starts
        self._window_samples = 0
        self._last_end: Optional[float] = None
        self._batch_start = 0.0
        self._pending_wait = 0.0
        self._pending_samples = 0
        self._cpu_mark = (time.perf_counter(), resources.cpu_seconds())
        self._started_at = time.perf_counter()
        self._last_write = 0.0
        self._grads: Optional[Dict[str, Any]] = None
        self._last_figure_step = -1
        self._run_dir: Optional[Path] = None
        self._num_workers: Optional[int] = None
        self._data_dir: Optional[Path] = None
        self._failure: Optional[str] = None
        self._exception: Optional[Dict[str, Any]] = None

    # -- Lightning hooks ------------------------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._run_dir = Path(trainer.default_root_dir) if trainer.is_global_zero else None
        datamodule = getattr(trainer, "datamodule", None)
        self._num_workers = getattr(datamodule, "num_workers", None)
        windows_dir = getattr(datamodule, "windows_dir", None)
        self._data_dir = Path(windows_dir).parent if windows_dir is not None else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started_at = time.perf_counter()
        self._cpu_mark = (self._started_at, resources.cpu_seconds())
        self.watchdog.beat(trainer.global_step)
        self.watchdog.start()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = time.perf_counter()  # the first batch's wait is its fetch, not the epoch's bookkeeping

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = None  # validation time is neither a training step nor a wait for training data

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = time.perf_counter()
        self.watchdog.beat(trainer.global_step)

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self.watchdog.beat(trainer.global_step)  # a long validation is not a stall

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        now = time.perf_counter()
        self._pending_wait = now - self._last_end if self._last_end is not None else 0.0
        self._batch_start = now - self._pending_wait
        self._pending_samples = batch_size(batch)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        if (trainer.global_step + 1) % self.every_n_steps == 0:  # this step's figures get logged at its end
            self._grads = gradient_norms(pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now = time.perf_counter()
        self._step_s.append(now - self._batch_start)
        self._wait_s.append(self._pending_wait)
        self._step_samples.append(self._pending_samples)
        self._samples += self._pending_samples
        self._window_samples += self._pending_samples
        self._last_end = now
        step = trainer.global_step
        self.watchdog.beat(step)
        if step % self.every_n_steps == 0 and step != self._last_figure_step:
            self._last_figure_step = step
            self._take_figures(trainer, now)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.watchdog.stop()
        self._finish(trainer, status="completed")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.watchdog.stop()
        ended = ENDED_NOT_FAILED.get(type(exception).__name__)
        if ended:  # a sweep pruning a trial, a user pressing Ctrl-C: the run stopped, nothing went wrong in it
            self._finish(trainer, status=ended)
            return
        self._failure = f"{type(exception).__name__}: {exception}"
        frames = traceback.extract_tb(exception.__traceback__)
        self._exception = {"type": type(exception).__name__, "message": str(exception),
                           "where": f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else None}
        self._finish(trainer, status="failed")

    def state_dict(self) -> Dict[str, Any]:
        return {}  # figures describe one process's run; a resumed run starts its own

    # -- figures --------------------------------------------------------------------------------------------------
    def _take_figures(self, trainer: pl.Trainer, now: float) -> None:
        steps = np.frombuffer(self._step_s, dtype=np.float64)[self._window_start:]
        waits = np.frombuffer(self._wait_s, dtype=np.float64)[self._window_start:]
        if not len(steps):
            return
        window_s = float(steps.sum())
        cpu_then_wall, cpu_then = self._cpu_mark
        cpu_now = resources.cpu_seconds()
        wall = max(now - cpu_then_wall, 1e-9)
        row: Dict[str, Any] = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "elapsed_s": round(now - self._started_at, 3),
            "samples_per_s": round(self._window_samples / max(window_s, 1e-9), 1),
            "step_ms_p50": round(1000 * float(np.percentile(steps, 50)), 3),
            "step_ms_p99": round(1000 * float(np.percentile(steps, 99)), 3),
            "data_wait_share": round(float(waits.sum()) / max(window_s, 1e-9), 4),
            **resources.memory_mb(),
            "cpu_utilisation": round((cpu_now - cpu_then) / wall / resources.cpu_count(), 4),
            **gpu_figures(),
            **(self._grads or {}),
        }
        self._cpu_mark = (now, cpu_now)
        self._window_start, self._window_samples, self._grads = len(self._step_s), 0, None
        row = {key: value for key, value in row.items() if value is not None}
        self.history.append(row)
        numbers = {f"health/{key}": float(value) for key, value in row.items()
                   if isinstance(value, (int, float)) and key not in ("step", "epoch")}
        for logger in trainer.loggers:
            logger.log_metrics(numbers, step=trainer.global_step)
        if self._run_dir is not None and now - self._last_write >= WRITE_EVERY_S:
            self._last_write = now
            records.write_health(self._run_dir, self.report(status="running"))

    def _stalled(self, record: Dict[str, Any]) -> None:
        self.stalls.append(record)
        if self._run_dir is not None:
            records.write_health(self._run_dir, self.report(status="running"))

    def summary(self) -> Dict[str, Any]:
        """Figures over the whole run so far (the first step, which pays for warm-up, left out when there are more)."""
        steps = np.frombuffer(self._step_s, dtype=np.float64)
        waits = np.frombuffer(self._wait_s, dtype=np.float64)
        samples = np.frombuffer(self._step_samples, dtype=np.int64)
        if len(steps) > 1:
            steps, waits, samples = steps[1:], waits[1:], samples[1:]
        summary: Dict[str, Any] = {"steps": len(self._step_s), "samples": self._samples}
        if len(steps):
            total = max(float(steps.sum()), 1e-9)
            summary.update(samples_per_s=round(float(samples.sum()) / total, 1),
                           step_ms_p50=round(1000 * float(np.percentile(steps, 50)), 3),
                           step_ms_p99=round(1000 * float(np.percentile(steps, 99)), 3),
                           data_wait_share=round(float(waits.sum()) / total, 4))
        if self.history:
            last = self.history[-1]
            anon = [row["rss_anon_mb"] for row in self.history if "rss_anon_mb" in row]
            summary.update(rss_anon_mb_first=anon[0] if anon else None, rss_anon_mb_last=anon[-1] if anon else None,
                           rss_anon_mb_max=max(anon) if anon else None, rss_file_mb_last=last.get("rss_file_mb"),
                           cpu_utilisation=last.get("cpu_utilisation"), grad_norm_last=next(
                               (row["grad_norm"] for row in reversed(self.history) if "grad_norm" in row), None))
            for key in ("gpu_memory_mb", "gpu_memory_peak_mb", "gpu_utilisation"):
                if key in last:
                    summary[key] = last[key]
        summary["stalls"] = self.stalls
        if self._failure:
            key = "non_finite" if self._failure.startswith("NonFiniteTrainingError") else "failure"
            summary[key] = self._failure.split(": ", 1)[1] if key == "non_finite" else self._failure
        return {key: value for key, value in summary.items() if value is not None}

    def report(self, status: str) -> Dict[str, Any]:
        summary = self.summary()
        return {
            "status": status,
            "updated_at": lineage.now_iso(),
            "verdict": verdict(summary, self.data_bound_share, self._num_workers),
            "problems": problems(summary, self.data_bound_share, self._num_workers),
            "every_n_steps": self.every_n_steps,
            "data_loader_workers": self._num_workers,
            "summary": summary,
            "exception": self._exception,
            "data_flow": data_flow(self._data_dir),
            "history": self.history,
        }

    def _finish(self, trainer: pl.Trainer, status: str) -> None:
        if self._run_dir is None:
            return
        if self._step_s and len(self._step_s) > self._window_start:
            self._take_figures(trainer, time.perf_counter())  # the last partial window
        report = self.report(status=status)
        records.write_health(self._run_dir, report)
        if self.plot and self.history:
            from drivelab.monitoring.health_plot import write_health_plot

            write_health_plot(self.history, self._run_dir / records.HEALTH_PLOT, verdict=report["verdict"])


def gpu_figures() -> Dict[str, Optional[float]]:
    """This process's GPU memory (allocated now, peak) in MiB and the device's utilisation, when training on CUDA."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {}
    figures: Dict[str, Optional[float]] = {
        "gpu_memory_mb": round(torch.cuda.memory_allocated() / resources.MIB, 1),
        "gpu_memory_peak_mb": round(torch.cuda.max_memory_allocated() / resources.MIB, 1),
    }
    try:
        figures["gpu_utilisation"] = torch.cuda.utilization() / 100.0  # needs NVML; absent on some machines
    except Exception:
        figures["gpu_utilisation"] = None
    return figures


def data_flow(data_dir: Optional[Path]) -> Dict[str, Any]:
    """The data stages' own records (throughput, peak memory) of the data version trained on, when it lies beside
    them (`<data_dir>/flow/<stage>.json`)."""
    from drivelab.monitoring.flow import read_flow

    return read_flow(data_dir) if data_dir is not None else {}
