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
from drivelab.data.lock import data_dir_lock
from drivelab.runs.builder import (build, build_callbacks, build_trainer, describe_data, for_trainer,
                                    trainer_settings_explained, validation_enabled)
from drivelab.runs.directory import RunDirectory
from drivelab.runs import liveness
from drivelab.runs.interrupt import RunInterrupted, interruption, signals_watched
from drivelab.runs.liveness import Heartbeat
from drivelab.runs.resume import drop_replayed_rows, newest_good_checkpoint
from drivelab.runs.resume_state import ResumeState


def train(cfg: DictConfig, run_dir: Path, extra_callbacks: Sequence[pl.Callback] = (),
          report_plots: bool = True) -> Dict[str, float]:
    """Train and test as configured into `run_dir`; returns the test metrics (`test/<name>`). `extra_callbacks` join
    the configured ones (a sweep's pruning hook); `report_plots=False` (or the config's `report_plots: false`) skips
    the report's PNGs (sweeps, compare).

    With `resume=auto`, `run_dir` is an unfinished run: it continues with its own config from its newest good
    checkpoint. Ctrl-C or SIGTERM end the run as `interrupted` and raise `RunInterrupted` (exit 130 or 143)."""
    run = RunDirectory(run_dir)
    lead = rank_zero_only.rank == 0  # DDP: rank 0 keeps the records, every rank trains
    resuming = cfg.get("resume") == "auto"
    if cfg.ckpt_path:
        check_checkpoint(cfg.ckpt_path)  # before anything is written
    checkpoint: Optional[str] = cfg.ckpt_path
    if resuming:
        cfg = resumed_config(run)
        newest = newest_good_checkpoint(run.path)
        checkpoint = str(newest) if newest is not None else None
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    windows_dir = Path(cfg.data.windows_dir)
    # windows.json, the shards and the version's hash are read under the data folder's lock: one consistent version
    # (the shards stay memory-mapped after it is released, even if a new version replaces the folder).
    with data_dir_lock(windows_dir.parent, "train", cfg.lock_timeout_s):
        data = describe_data(windows_dir)
        datamodule, model = build(cfg)
        datamodule.setup("fit")
        datamodule.setup("test")
    if resuming and lead:
        record_resume(run, newest)
    elif lead:
        run.start(cfg, data, code_dir=conf_dir().parent)
    loggers: List[Any] = []
    trainer: Optional[pl.Trainer] = None
    with signals_watched() as signals:
        try:
            with Heartbeat(run.path) if lead else nullcontext():
                loggers = tracking.build_loggers(cfg.logger, run, OmegaConf.to_container(cfg, resolve=True),
                                                 tracking_id=_tracking_id(run), resume=resuming)
                validation = validation_enabled(cfg.trainer)
                callbacks = build_callbacks(cfg.callbacks, run, with_logger=bool(loggers), validation=validation,
                                            progress_bar=bool(cfg.trainer.get("enable_progress_bar", True)))
                trainer = build_trainer(cfg, run, loggers, [*callbacks, ResumeState(), *extra_callbacks])
                console.hide_run_version(trainer.progress_bar_callback)
                best_checkpoint = None
                if model.is_trainable:
                    with trainer_settings_explained():
                        trainer.fit(for_trainer(model), datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
                    best_checkpoint = best_checkpoint_path(trainer, run)
                metrics: Dict[str, float] = {}
                if cfg.test_after_fit:
                    if best_checkpoint:
                        load_weights(model, run.path / best_checkpoint)
                    trainer.test(for_trainer(model), datamodule=datamodule, verbose=False)
                    metrics = {f"test/{name}": value for name, value in model.last_metrics["test"].items()}
                    if lead:  # slice metrics (JSON, logged) and plots beside metrics.json
                        from drivelab.evaluation.report import write_run_report

                        write_run_report(model, datamodule, run.path, loggers=loggers, step=trainer.global_step,
                                         plots=report_plots and cfg.get("report_plots", True))
            if lead:
                if resuming:
                    drop_replayed_rows(run.logs / "csv")
                run.write_metrics(metrics)
                run.update_manifest(status="completed", finished_at=lineage.now_iso(), best_checkpoint=best_checkpoint,
                                    epochs=trainer.current_epoch, global_step=trainer.global_step, metrics=metrics)
            return metrics
        except BaseException as exc:
            signum = interruption(exc, signals)
            if lead and (run.path / "manifest.json").exists():
                kept = _kept_checkpoint(trainer, run)
                if signum is not None:
                    stopped = RunInterrupted(signum, run.path)
                    run.update_manifest(status="interrupted", finished_at=lineage.now_iso(), best_checkpoint=kept,
                                        error=None, signal=stopped.signal_name, resume_command=stopped.resume_command())
                else:
                    run.update_manifest(status="failed", finished_at=lineage.now_iso(), best_checkpoint=kept,
                                        error=lineage.mask_secrets(f"{type(exc).__name__}: {exc}"))
            if signum is not None:
                raise RunInterrupted(signum, run.path) from None
            raise
        finally:
            tracking.finish(loggers)


def resumed_config(run: RunDirectory) -> DictConfig:
    """The config a resumed run continues with: its own, re-validated (a run directory is untrusted input)."""
    from drivelab.runs.opened import Run

    return Run(run.path).config


def record_resume(run: RunDirectory, checkpoint: Optional[Path]) -> None:
    """The manifest says the run lives again (this process, this host) and lists every resume."""
    manifest = run.manifest()
    step = None
    if checkpoint is not None:
        from drivelab.checkpoints import read_checkpoint

        step = int(read_checkpoint(checkpoint).get("global_step") or 0)
    resumes = list(manifest.get("resumes") or [])
    resumes.append({"at": lineage.now_iso(), "from_status": liveness.observed_status(manifest, run.path),
                    "checkpoint": str(checkpoint.relative_to(run.path)) if checkpoint is not None else None,
                    "global_step": step})
    run.update_manifest(status="running", finished_at=None, error=None, signal=None, resume_command=None,
                        resumes=resumes, **liveness.identity())


def _kept_checkpoint(trainer: Optional[pl.Trainer], run: RunDirectory) -> Optional[str]:
    """The best checkpoint so far of a run that stopped early (else its newest good one): kept in the manifest."""
    best = best_checkpoint_path(trainer, run) if trainer is not None else None
    if best is None:
        newest = newest_good_checkpoint(run.path)
        best = str(newest.relative_to(run.path)) if newest is not None else None
    return best


def _tracking_id(run: RunDirectory) -> Optional[str]:
    """Rank 0 wrote it into the manifest; other DDP ranks log nothing, so they need none."""
    return run.tracking_id() if (run.path / "manifest.json").is_file() else None


def best_checkpoint_path(trainer: pl.Trainer, run: RunDirectory) -> Optional[str]:
    """The best checkpoint (else the last one), relative to the run directory."""
    callback = trainer.checkpoint_callback
    path = (callback.best_model_path or callback.last_model_path) if callback else ""
    return str(Path(path).resolve().relative_to(run.path)) if path else None
