"""A run's parts, built from a validated config the one way every command, sweep trial and notebook builds them:
the data module and the model, then the loggers, callbacks and Trainer that train them, and the test procedure.

Every object comes from `drivelab.config.registry.instantiate`, so a config can only build what the registry names.
"""

from __future__ import annotations

from pathlib import Path
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from drivelab import lineage
from drivelab.checkpoints import load_weights, saved_hyperparameters
from drivelab.config.registry import instantiate
from drivelab.errors import ConfigError
from drivelab.data.windows import store
from drivelab.models.base import TaskModel
from drivelab.runs.directory import RunDirectory

MONITORING_CALLBACKS = ("EarlyStopping",)  # callbacks that need validation metrics to exist at all
PROGRESS_BARS = ("ProgressBar", "RichProgressBar", "TQDMProgressBar")  # dropped with trainer.enable_progress_bar=false


def build_model(model_cfg: Any, shapes: Dict[str, Any]) -> TaskModel:
    """A model from its config; nested optimizer/scheduler configs stay plain dicts until training starts."""
    return instantiate(model_cfg, _recursive_=False, _convert_="all", shapes=shapes)


def build(cfg: DictConfig) -> Tuple[Any, TaskModel]:
    """(data module, model) of a validated training config, the model sized for the data module's windows."""
    datamodule = instantiate(cfg.data)
    return datamodule, build_model(cfg.model, datamodule.shapes)


def for_trainer(model: TaskModel) -> TaskModel:
    """The model as the Trainer fits and tests it: with `model.compile=true` its forward runs under `torch.compile`.
    Only the forward: Lightning's own compile path also traces the step methods, whose `self.log` dynamo cannot
    follow. Weights, checkpoints and exports stay the plain module's."""
    if model.hparams.get("compile") and not isinstance(model.forward, _CompiledForward):
        model.forward = _CompiledForward(torch.compile(model.forward))
    return model


class _CompiledForward:
    """Marks a forward already compiled, so that fitting and then testing compile once."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled(*args, **kwargs)


def describe_data(windows_dir: Path) -> Dict[str, Any]:
    """The data version a run trains on: its content hash (as DVC records it), folder and window settings."""
    windows_dir = Path(windows_dir)
    if not windows_dir.is_dir():
        return {"version": None, "windows_dir": str(windows_dir), "spec": None}
    return {"version": lineage.dvc_dir_md5(windows_dir), "windows_dir": str(windows_dir),
            "spec": store.read_info(windows_dir).get("spec")}


def validation_enabled(trainer_cfg: Any) -> bool:
    return float(trainer_cfg.get("limit_val_batches") if trainer_cfg.get("limit_val_batches") is not None else 1) > 0


def build_callbacks(callbacks_cfg: Any, run: RunDirectory, with_logger: bool = True,
                    validation: bool = True, progress_bar: bool = True) -> List[pl.Callback]:
    """The configured callbacks, checkpoints written into the run directory. Without a logger the learning-rate
    monitor has nowhere to write; without validation there is no metric to stop early on or to pick a best
    checkpoint by (the last one is kept); without `progress_bar` (trainer.enable_progress_bar=false) no bar."""
    callbacks = []
    for name, conf in (callbacks_cfg or {}).items():
        if not conf:
            continue
        kind = str(conf["_target_"]).rsplit(".", 1)[-1]
        if (kind == "LearningRateMonitor" and not with_logger) or (kind in MONITORING_CALLBACKS and not validation):
            continue
        if kind in PROGRESS_BARS and not progress_bar:
            continue
        kwargs: Dict[str, Any] = {}
        if kind == "ModelCheckpoint":
            kwargs["dirpath"] = str(run.checkpoints)
            if not validation and conf.get("monitor") not in ("step", "epoch"):  # step checkpoints need no metric
                kwargs.update(monitor=None, save_top_k=1)
        with trainer_settings_explained(f"callbacks.{name}"):
            callbacks.append(instantiate(conf, **kwargs))
    return callbacks


def build_trainer(cfg: DictConfig, run: RunDirectory, loggers: Sequence[Any], callbacks: Sequence[pl.Callback]) -> pl.Trainer:
    from drivelab.runs.checkpoint_io import AtomicCheckpointIO

    with trainer_settings_explained():
        trainer = instantiate(cfg.trainer, logger=list(loggers) or False, callbacks=list(callbacks),
                              default_root_dir=str(run.path), plugins=[AtomicCheckpointIO()])
    if cfg.trainer.get("deterministic"):
        # Deterministic kernels stay on; only PyTorch's NaN fill of every new tensor (a debugging aid that cost
        # ~1.9 ms per CPU step, benchmarks/training_step.py) goes: kernels overwrite what they allocate anyway.
        torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer


@contextmanager
def trainer_settings_explained(key: str = "trainer") -> Iterator[None]:
    """A refusal of a setting under `key` (an accelerator this machine lacks, a fraction of one batch, a callback's
    mode) as one line naming the key, not Hydra's "Error executing job" block. Other errors keep their traceback."""
    from hydra.errors import InstantiationException
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (MisconfigurationException, InstantiationException) as exc:
        cause = exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ else exc
        if isinstance(exc, InstantiationException) and not isinstance(cause, (MisconfigurationException, ValueError,
                                                                              TypeError)):
            raise
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise ConfigError(f"{key}: {first}") from None


def test(cfg: DictConfig, checkpoint: Optional[Path] = None, limit_test_batches: Any = None,
         test_splits: Sequence[str] = ("test",)) -> Tuple[Dict[str, float], TaskModel, Any]:
    """The test procedure of a run, rebuilt from its config: same data module, same batches, same model (with the
    checkpoint's weights, loaded weights-only), on one CPU process; `test_splits` are the splits scored (all three
    for a data version used only for testing). Returns (`test/<metric>` values, model, data)."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data, test_splits=list(test_splits))
    # A trained model keeps its own window sizes and feature scales, whatever data version it is scored on.
    model = build_model(cfg.model, saved_hyperparameters(checkpoint)["shapes"] if checkpoint else datamodule.shapes)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, deterministic=True,
        limit_test_batches=limit_test_batches if limit_test_batches is not None else cfg.trainer.limit_test_batches,
    )
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {f"test/{name}": value for name, value in model.last_metrics["test"].items()}, model, datamodule
