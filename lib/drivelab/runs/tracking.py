"""Experiment trackers for a run: W&B (offline unless told otherwise) and CSV, both inside the run directory."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

from drivelab.config.registry import instantiate
from drivelab.runs.directory import RunDirectory


def build_loggers(logger_cfg: Optional[Dict[str, Any]], run: RunDirectory, config: Dict[str, Any],
                  tracking_id: Optional[str] = None, resume: bool = False) -> List[Any]:
    """Instantiate every configured logger, pointed at `run.logs`, and give each the resolved config. W&B gets the
    run's own random id (`tracking_id`, kept in the manifest): directory names repeat (the pipeline always writes
    models/train, multirun jobs are 0, 1, ...), and `wandb sync` would merge runs that shared an id."""
    loggers = []
    from drivelab.runs.builder import trainer_settings_explained

    for name, conf in (logger_cfg or {}).items():
        if not conf:
            continue
        conf = dict(conf)
        kwargs: Dict[str, Any] = {"save_dir": str(run.logs)}
        if conf["_target_"].endswith("WandbLogger"):
            # Absolute and inside the run, so queued DVC experiments keep it and nothing lands in the repo.
            os.environ["WANDB_DIR"] = str(run.logs)
            os.environ.setdefault("WANDB_MODE", conf.get("mode") or "offline")
            kwargs.update(name=run.path.name, id=tracking_id)
            if resume:  # a resumed run continues its W&B run (same id; Lightning logs trainer/global_step)
                kwargs["resume"] = "allow"
        with trainer_settings_explained(f"logger.{name}"):
            logger = instantiate(conf, **kwargs)
        # Lightning always passes `anonymous` (None) to wandb.init, which warns that the setting is deprecated.
        getattr(logger, "_wandb_init", {}).pop("anonymous", None)
        loggers.append(logger)
    for logger in loggers:
        logger.log_hyperparams(config)
    return loggers


def finish(loggers: List[Any]) -> None:
    """Close every logger; W&B runs must be finished or the next run in this process would reuse them."""
    for logger in loggers:
        logger.finalize("success")
    if "wandb" in sys.modules:
        wandb = sys.modules["wandb"]
        if getattr(wandb, "run", None) is not None:
            wandb.finish()
