"""ProfileWindow: the PyTorch profiler over a short window of training steps (`debug=profile`), written into the run
directory as `profile/trace.json` (open in chrome://tracing or Perfetto) and `profile/top_ops.txt` (the operators
that took the most time). Steps before the window are skipped: the first ones pay for warm-up."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import pytorch_lightning as pl
import torch

from drivelab.atomic import write_text
from drivelab.monitoring.records import PROFILE_DIR

log = logging.getLogger(__name__)


class ProfileWindow(pl.Callback):
    def __init__(self, skip_steps: int = 5, active_steps: int = 10, top_ops: int = 25,
                 sort_by: str = "self_cpu_time_total") -> None:
        super().__init__()
        self.skip_steps, self.active_steps, self.top_ops, self.sort_by = skip_steps, active_steps, top_ops, sort_by
        self._profiler: Optional[torch.profiler.profile] = None
        self._done = False

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._done or self._profiler is not None or trainer.global_step < self.skip_steps:
            return
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available() and pl_module.device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self._first_step = trainer.global_step
        self._profiler = torch.profiler.profile(activities=activities, record_shapes=True, profile_memory=True)
        self._profiler.__enter__()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._profiler is not None and trainer.global_step - self._first_step >= self.active_steps:
            self._write(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._profiler is not None:  # the run ended inside the window: keep what was profiled
            self._write(trainer)

    def _write(self, trainer: pl.Trainer) -> None:
        profiler, self._profiler, self._done = self._profiler, None, True
        profiler.__exit__(None, None, None)
        if not trainer.is_global_zero:
            return
        folder = Path(trainer.default_root_dir) / PROFILE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        profiler.export_chrome_trace(str(folder / "trace.json"))
        steps = trainer.global_step - self._first_step
        table = profiler.key_averages().table(sort_by=self.sort_by, row_limit=self.top_ops)
        write_text(folder / "top_ops.txt", f"steps {self._first_step}..{trainer.global_step} ({steps} steps), "
                                           f"sorted by {self.sort_by}\n{table}\n")
        log.info("profile of %d steps: %s (trace.json, top_ops.txt)", steps, folder)
