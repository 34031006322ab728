"""`drivelab compare experiment=IDEA [compare.baselines=[cv,mlp,gru]] [compare.seeds=3] [overrides...]`: the idea
against every baseline, over seeds, on one data version, with paired bootstrap intervals (`drivelab.compare`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from omegaconf import DictConfig, OmegaConf

from drivelab.compare.comparison import CompareSettings, run_comparison
from drivelab.config.validate import override_key

OWN_KEYS = ("compare.", "hydra.", "experiment")  # the comparison's settings, not the compared runs'


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, Any]:
    idea, command_line = _hydra_context()
    settings = cfg.compare
    common = [o for o in command_line if not override_key(o).lstrip("+~").startswith(OWN_KEYS)]
    return run_comparison(
        CompareSettings(idea=idea, baselines=list(settings.baselines), seeds=settings.seeds, first_seed=int(cfg.seed),
                        eval_data=[str(path) for path in settings.eval_data], rerun=settings.rerun,
                        workers=settings.workers, torch_threads=settings.torch_threads,
                        bootstrap_samples=settings.bootstrap_samples, confidence=settings.confidence,
                        bootstrap_seed=settings.bootstrap_seed, wandb_group=f"compare-{Path(run_dir).name}",
                        wandb_settings=_wandb_settings(cfg)),
        common, Path(cfg.paths.runs_dir), Path(run_dir))


def _hydra_context() -> tuple[str, List[str]]:
    """The chosen experiment and the command line's overrides (every compared run is composed from them)."""
    from hydra.core.hydra_config import HydraConfig

    from drivelab.errors import ConfigError

    if not HydraConfig.initialized():
        raise ConfigError("drivelab compare composes its runs from the command line; run it without --params")
    hydra_cfg = HydraConfig.get()
    return str(hydra_cfg.runtime.choices.get("experiment") or ""), list(hydra_cfg.overrides.task)


def _wandb_settings(cfg: DictConfig) -> Dict[str, Any] | None:
    wandb = (cfg.get("logger") or {}).get("wandb")
    return OmegaConf.to_container(wandb, resolve=True) if wandb else None  # type: ignore[return-value]
