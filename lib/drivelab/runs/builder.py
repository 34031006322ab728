"""A run's parts, built from a validated config the one way every command, sweep trial and notebook builds them:
the data module and the model, then the loggers, callbacks and Trainer that train them, and the test procedure.

Every object comes from `drivelab.config.registry.instantiate`, so a config can only build what the registry names.
"""

from __future__ import annotations

from pathlib import Path
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytorch_lightning as pl
from omegaconf import DictConfig

from drivelab import lineage
from drivelab.checkpoints import load_weights
from drivelab.config.registry import instantiate
from drivelab.errors import ConfigError
from drivelab.data.windows import store
from drivelab.models.base import TaskModel
from drivelab.runs.directory import RunDirectory

MONITORING_CALLBACKS = ("EarlyStopping",)  # callbacks that need validation metrics to exist at all


def build_model(model_cfg: Any, shapes: Dict[str, Any]) -> TaskModel:
    """A model from its config; nested optimizer/scheduler configs stay plain dicts until training starts."""
    return instantiate(model_cfg, _recursive_=False, _convert_="all", shapes=shapes)


def build(cfg: DictConfig) -> Tuple[Any, TaskModel]:
    """(data module, model) of a validated training config, the model sized for the data module's windows."""
    datamodule = instantiate(cfg.data)
    return datamodule, build_model(cfg.model, datamodule.shapes)


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
                    validation: bool = True) -> List[pl.Callback]:
    """The configured callbacks, checkpoints written into the run directory. Without a logger the learning-rate
    monitor has nowhere to write; without validation there is no metric to stop early on or to pick a best
    checkpoint by (the last one is kept)."""
    callbacks = []
    for name, conf in (callbacks_cfg or {}).items():
        if not conf:
            continue
        kind = str(conf["_target_"]).rsplit(".", 1)[-1]
        if (kind == "LearningRateMonitor" and not with_logger) or (kind in MONITORING_CALLBACKS and not validation):
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
        return instantiate(cfg.trainer, logger=list(loggers) or False, callbacks=list(callbacks),
                           default_root_dir=str(run.path), plugins=[AtomicCheckpointIO()])


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


def test(cfg: DictConfig, checkpoint: Optional[Path] = None, limit_test_batches: Any = None) -> Tuple[Dict[str, float], TaskModel, Any]:
    """The test procedure of a run, rebuilt from its config: same data module, same batches, same model (with the
    checkpoint's weights, loaded weights-only), on one CPU process. Returns (`test/<metric>` values, model, data)."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model = build(cfg)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, deterministic=True,
        limit_test_batches=limit_test_batches if limit_test_batches is not None else cfg.trainer.limit_test_batches,
    )
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {f"test/{name}": value for name, value in model.last_metrics["test"].items()}, model, datamodule
