"""`drivelab promote`'s checks before anything heavy is imported: a refusal (no reason, unknown stage, dirty tree)
answers in a second instead of after loading torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivelab.errors import ConfigError
from drivelab.registry import promote, repository


def check_promotion(cfg: Any) -> None:
    if not cfg.run_dir or not cfg.stage:
        raise ConfigError("promote needs run_dir=DIR (a run directory) and stage=STAGE (one of .gto's stages)")
    if not cfg.reason:
        raise ConfigError("say why in reason=\"...\": it goes into the promotion's commit and tag")
    repo = repository.root(Path(cfg.paths.root_dir))
    promote.check_name(cfg.name)
    promote.check_stage(repo, cfg.stage)
    repository.check_clean(repo)
    repository.who(repo)
