"""The runs a comparison needs: the idea (an `experiment=` option) and every baseline (a `model=` option), each
with every seed, all on one data version; each is taken from the run cache or trained into a new run directory."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from drivelab import lineage
from drivelab.compare import cache
from drivelab.config.validate import compose
from drivelab.errors import ConfigError
from drivelab.runs import Run
from drivelab.sweep.jobs import TrainJob

RUN_OVERRIDES = ("trainer.enable_progress_bar=false", "trainer.enable_model_summary=false")  # side-by-side workers


@dataclass
class PlannedRun:
    model: str  # the row it belongs to: the idea's name or a baseline's option
    role: str  # idea | baseline
    seed: int
    overrides: List[str]
    key: str
    parts: Dict[str, Any]
    run_dir: Path
    cached: bool

    def job(self, wandb_group: Optional[str]) -> TrainJob:
        return TrainJob(label=f"{self.model} seed {self.seed}", overrides=tuple(self.overrides),
                        run_dir=str(self.run_dir), wandb_group=wandb_group,
                        record={"cache_key": self.key, "cache": self.parts})


def seeds_from(first_seed: int, count: int) -> List[int]:
    if count < 1:
        raise ConfigError(f"compare.seeds={count}: at least one seed is needed (two or more to see seed noise)")
    return [first_seed + offset for offset in range(count)]


def model_overrides(idea: str, baselines: Sequence[str], common: Sequence[str]) -> Dict[str, List[str]]:
    """Each compared model's `drivelab train` overrides (before its seed), by row name, the idea first."""
    if not idea:
        raise ConfigError("drivelab compare needs the idea to compare: experiment=IDEA (experiments/ or conf/experiment/)")
    if idea in baselines:
        raise ConfigError(f"compare.baselines names {idea}, the idea itself; name each model once")
    if len(set(baselines)) != len(baselines):
        raise ConfigError(f"compare.baselines={list(baselines)} names a model twice")
    models = {idea: [*RUN_OVERRIDES, f"experiment={idea}", *common]}
    for baseline in baselines:
        models[baseline] = [*RUN_OVERRIDES, *common, f"model={baseline}"]
    return models


def plan_runs(idea: str, baselines: Sequence[str], seeds: Sequence[int], common: Sequence[str], runs_dir: Path,
              rerun: bool) -> tuple[List[PlannedRun], str]:
    """Every run of the comparison (the idea's first) and the data version they share. A run is `cached` when a
    completed run under `runs_dir` has its key (and `rerun` is off); otherwise it gets a new directory under
    `runs_dir/compare/<model>/`."""
    library = cache.library_version()
    finished = {} if rerun else cache.finished_runs_by_key(runs_dir)
    planned, versions = [], {}
    for model, overrides in model_overrides(idea, baselines, common).items():
        for seed in seeds:
            run_overrides = [*overrides, f"seed={seed}"]
            cfg = compose("train", run_overrides)
            windows_dir = Path(cfg.data.windows_dir)
            if windows_dir not in versions:
                if not (windows_dir / "windows.json").is_file():
                    raise ConfigError(f"no windows at {windows_dir} (data.windows_dir); run `drivelab prepare` first")
                versions[windows_dir] = lineage.dvc_dir_md5(windows_dir)
            parts = cache.cache_parts(cfg, versions[windows_dir], library)
            key = cache.cache_key(parts)
            hits: List[Run] = finished.get(key, [])
            run_dir = hits[0].path if hits else \
                runs_dir / "compare" / model / f"seed{seed}_{key[:12]}_{secrets.token_hex(3)}"
            planned.append(PlannedRun(model, "idea" if model == idea else "baseline", seed, run_overrides, key, parts,
                                      Path(run_dir), cached=bool(hits)))
    if len(versions) > 1:
        raise ConfigError(f"the compared models read different windows ({', '.join(map(str, versions))}); "
                          "set paths.data_dir once for all of them")
    return planned, next(iter(versions.values()))
