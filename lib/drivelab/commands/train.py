"""`drivelab train`: build data, model, loggers, callbacks and trainer from config; fit; test the best checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from drivelab import lineage, tracking
from drivelab.checkpoints import load_weights
from drivelab.config.targets import instantiate
from drivelab.models.base import build_model
from drivelab.config.validate import conf_dir
from drivelab.runs import RunDirectory


def main(cfg: DictConfig, run_dir: Path, extra_callbacks: Sequence[pl.Callback] = ()) -> Dict[str, float]:
    """Train and test as configured; `extra_callbacks` join the configured ones (a sweep's pruning hook)."""
    run = RunDirectory(run_dir)
    data_version = lineage.dvc_dir_md5(Path(cfg.data.windows_dir)) if Path(cfg.data.windows_dir).is_dir() else None
    if rank_zero_only.rank == 0:
        run.start(cfg, data_version, code_dir=conf_dir().parent)
    loggers: List[Any] = []
    try:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = instantiate(cfg.data)
        model = build_model(cfg.model, datamodule.shapes)
        loggers = tracking.build_loggers(cfg.logger, run, OmegaConf.to_container(cfg, resolve=True))
        callbacks = build_callbacks(cfg.callbacks, run, with_logger=bool(loggers)) + list(extra_callbacks)
        trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks,
                                          default_root_dir=str(run.path))
        best_checkpoint = None
        if model.is_trainable:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
            best_checkpoint = best_checkpoint_path(trainer, run)
        metrics: Dict[str, float] = {}
        if cfg.test_after_fit:
            if best_checkpoint:
                load_weights(model, run.path / best_checkpoint)
            trainer.test(model, datamodule=datamodule, verbose=False)
            metrics = {f"test/{name}": value for name, value in model.last_metrics["test"].items()}
            if rank_zero_only.rank == 0:  # slice metrics (JSON, logged) and plots beside metrics.json
                from drivelab.evaluation.report import write_run_report

                write_run_report(model, datamodule, run.path, loggers=loggers, step=trainer.global_step)
        if rank_zero_only.rank == 0:
            run.write_metrics(metrics)
            run.update_manifest(status="completed", finished_at=lineage.now_iso(), best_checkpoint=best_checkpoint,
                                epochs=trainer.current_epoch, global_step=trainer.global_step, metrics=metrics)
            report(metrics, run)
        return metrics
    except BaseException as exc:
        if rank_zero_only.rank == 0 and (run.path / "manifest.json").exists():
            run.update_manifest(status="failed", finished_at=lineage.now_iso(), error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        tracking.finish(loggers)


def build_callbacks(callbacks_cfg: Any, run: RunDirectory, with_logger: bool = True) -> List[pl.Callback]:
    callbacks = []
    for conf in (callbacks_cfg or {}).values():
        if not conf or (not with_logger and conf["_target_"].endswith("LearningRateMonitor")):
            continue  # the learning-rate monitor only writes to a logger (logger=none has none)
        kwargs = {"dirpath": str(run.checkpoints)} if conf["_target_"].endswith("ModelCheckpoint") else {}
        callbacks.append(instantiate(conf, **kwargs))
    return callbacks


def best_checkpoint_path(trainer: pl.Trainer, run: RunDirectory) -> str | None:
    """The best checkpoint (else the last one), relative to the run directory."""
    callback = trainer.checkpoint_callback
    path = (callback.best_model_path or callback.last_model_path) if callback else ""
    return str(Path(path).resolve().relative_to(run.path)) if path else None


def report(metrics: Dict[str, float], run: RunDirectory) -> None:
    if metrics:
        print("test: " + "  ".join(f"{name.split('/', 1)[1]} {value:.3f}" for name, value in metrics.items()))
    print(f"run directory: {run.path}")
