"""Training a run: build its parts, fit, test the best checkpoint, and record everything in the run directory.

`drivelab train`, every sweep trial and every benchmark call `train`; a fix here reaches them all.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from drivelab import console, lineage
from drivelab.runs import tracking
from drivelab.checkpoints import check_checkpoint, load_weights
from drivelab.config.validate import conf_dir
from drivelab.runs.builder import (build, build_callbacks, build_trainer, describe_data, trainer_settings_explained,
                                    validation_enabled)
from drivelab.runs.directory import RunDirectory
from drivelab.runs.liveness import Heartbeat


def train(cfg: DictConfig, run_dir: Path, extra_callbacks: Sequence[pl.Callback] = (),
          report_plots: bool = True) -> Dict[str, float]:
    """Train and test as configured into `run_dir`; returns the test metrics (`test/<name>`). `extra_callbacks` join
    the configured ones (a sweep's pruning hook); `report_plots=False` (or the config's `report_plots: false`) skips the report's PNGs (sweeps, compare)."""
    run = RunDirectory(run_dir)
    lead = rank_zero_only.rank == 0  # DDP: rank 0 keeps the records, every rank trains
    if cfg.ckpt_path:
        check_checkpoint(cfg.ckpt_path)  # before anything is written
    if lead:
        run.start(cfg, describe_data(Path(cfg.data.windows_dir)), code_dir=conf_dir().parent)
    loggers: List[Any] = []
    try:
        with Heartbeat(run.path) if lead else nullcontext():
            pl.seed_everything(cfg.seed, workers=True, verbose=False)
            datamodule, model = build(cfg)
            loggers = tracking.build_loggers(cfg.logger, run, OmegaConf.to_container(cfg, resolve=True),
                                             tracking_id=_tracking_id(run))
            validation = validation_enabled(cfg.trainer)
            callbacks = build_callbacks(cfg.callbacks, run, with_logger=bool(loggers), validation=validation,
                                        progress_bar=bool(cfg.trainer.get("enable_progress_bar", True)))
            trainer = build_trainer(cfg, run, loggers, [*callbacks, *extra_callbacks])
            console.hide_run_version(trainer.progress_bar_callback)
            best_checkpoint = None
            if model.is_trainable:
                with trainer_settings_explained():
                    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
                best_checkpoint = best_checkpoint_path(trainer, run)
            metrics: Dict[str, float] = {}
            if cfg.test_after_fit:
                if best_checkpoint:
                    load_weights(model, run.path / best_checkpoint)
                trainer.test(model, datamodule=datamodule, verbose=False)
                metrics = {f"test/{name}": value for name, value in model.last_metrics["test"].items()}
                if lead:  # slice metrics (JSON, logged) and plots beside metrics.json
                    from drivelab.evaluation.report import write_run_report

                    write_run_report(model, datamodule, run.path, loggers=loggers, step=trainer.global_step,
                                     plots=report_plots and cfg.get("report_plots", True))
        if lead:
            run.write_metrics(metrics)
            run.update_manifest(status="completed", finished_at=lineage.now_iso(), best_checkpoint=best_checkpoint,
                                epochs=trainer.current_epoch, global_step=trainer.global_step, metrics=metrics)
        return metrics
    except BaseException as exc:
        if lead and (run.path / "manifest.json").exists():
            run.update_manifest(status="failed", finished_at=lineage.now_iso(),
                                error=lineage.mask_secrets(f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        tracking.finish(loggers)


def _tracking_id(run: RunDirectory) -> Optional[str]:
    """Rank 0 wrote it into the manifest; other DDP ranks log nothing, so they need none."""
    return run.tracking_id() if (run.path / "manifest.json").is_file() else None


def best_checkpoint_path(trainer: pl.Trainer, run: RunDirectory) -> Optional[str]:
    """The best checkpoint (else the last one), relative to the run directory."""
    callback = trainer.checkpoint_callback
    path = (callback.best_model_path or callback.last_model_path) if callback else ""
    return str(Path(path).resolve().relative_to(run.path)) if path else None
