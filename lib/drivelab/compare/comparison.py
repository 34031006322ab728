"""A comparison from start to end: plan the runs, train what the cache lacks (in parallel workers), score every run
on the same windows, summarise over seeds, test the differences, write the report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drivelab.compare import report, stats
from drivelab.compare.plan import PlannedRun, plan_runs, seeds_from
from drivelab.compare.tracking import log_summary
from drivelab.compare.scores import SLICES, WindowScores, check_same_windows, metric_specs, score_run
from drivelab.data.windows.store import SPLITS
from drivelab.errors import DrivelabError
from drivelab.runs import open_run
from drivelab.sweep.jobs import train_all


@dataclass
class CompareSettings:
    idea: str
    baselines: List[str]
    seeds: int
    first_seed: int
    eval_data: List[str] = field(default_factory=list)
    rerun: bool = False
    workers: int = 1
    torch_threads: Optional[int] = None
    bootstrap_samples: int = 2000
    confidence: float = 0.95
    bootstrap_seed: int = 0
    wandb_group: Optional[str] = None
    wandb_settings: Optional[Dict[str, Any]] = None  # the W&B logger's settings, when W&B is configured


def run_comparison(settings: CompareSettings, common: Sequence[str], runs_dir: Path, output_dir: Path) -> Dict[str, Any]:
    started = time.perf_counter()
    seeds = seeds_from(settings.first_seed, settings.seeds)
    planned, data_version = plan_runs(settings.idea, settings.baselines, seeds, common, Path(runs_dir), settings.rerun)
    to_train = [run for run in planned if not run.cached]
    print(f"compare {settings.idea} vs {', '.join(settings.baselines)}: {len(planned)} runs "
          f"({len(planned) - len(to_train)} from the cache, {len(to_train)} to train) on data version {data_version}",
          flush=True)
    threads = settings.torch_threads or max(1, (os.cpu_count() or 1) // max(1, min(settings.workers, len(to_train) or 1)))
    failed = train_all([run.job(settings.wandb_group) for run in to_train], settings.workers, threads)
    if failed:
        raise DrivelabError(f"{len(failed)} run(s) failed ({', '.join(failed)}); their run directories hold the error "
                            "(manifest.json); fix it and run the same command again (finished runs come from the cache)")
    trained_s = time.perf_counter() - started
    results: Dict[str, Any] = {
        "idea": settings.idea, "baselines": list(settings.baselines), "seeds": seeds, "data_version": data_version,
        "confidence": settings.confidence, "bootstrap_samples": settings.bootstrap_samples,
        "runs": [{"model": run.model, "role": run.role, "seed": run.seed, "run_dir": str(run.run_dir),
                  "cached": run.cached, "cache_key": run.key} for run in planned],
        "evaluations": [],
    }
    sources = [(None, ("test",), f"test windows of data version {data_version}")]
    sources += [(Path(path), SPLITS, f"every window of {path}") for path in settings.eval_data]
    for data_dir, splits, title in sources:
        scores = {(run.model, run.seed): score_run(open_run(run.run_dir), data_dir, splits) for run in planned}
        results["evaluations"].append(summarise(settings, planned, scores, title, data_dir))
    results["metrics"] = list(results["evaluations"][0]["slices"]["all"]["models"][settings.idea])
    results["seconds"] = {"planning_and_training": round(trained_s, 1), "total": round(time.perf_counter() - started, 1)}
    paths = report.write(results, output_dir)
    if settings.wandb_group:
        log_summary(results, settings.wandb_settings, settings.wandb_group, Path(output_dir) / "logs")
    print(report.markdown(results))
    print(f"written: {paths['json']}, {paths['table']}, {paths['plot']}")
    return results


def summarise(settings: CompareSettings, planned: List[PlannedRun], scores: Dict[Any, WindowScores], title: str,
              data_dir: Optional[Path]) -> Dict[str, Any]:
    """Per slice: each model's metrics over seeds and idea - baseline with bootstrap intervals; RMSE per step."""
    check_same_windows({f"{model} seed {seed}": value for (model, seed), value in scores.items()})
    first = next(iter(scores.values()))
    specs = metric_specs(first.squared_by_step.shape[1], _sample_hz(first))
    kinds = {spec.name: spec.aggregate for spec in specs}
    models = list(dict.fromkeys(run.model for run in planned))
    per_seed = {model: {metric: [scores[(run.model, run.seed)].values[metric] for run in planned if run.model == model]
                        for metric in kinds} for model in models}
    slices: Dict[str, Any] = {}
    for name in SLICES:
        mask = first.slices[name]
        entry: Dict[str, Any] = {"count": int(mask.sum()), "models": {}, "differences": {}}
        if entry["count"]:
            entry["models"] = {model: {metric: stats.over_seeds(per_seed[model][metric], mask, kind)
                                       for metric, kind in kinds.items()} for model in models}
            differences = stats.paired_differences(
                per_seed[settings.idea], {model: per_seed[model] for model in settings.baselines}, kinds, mask,
                settings.bootstrap_samples, settings.confidence, settings.bootstrap_seed)
            entry["differences"] = {baseline: {metric: value.to_json() for metric, value in by_metric.items()}
                                    for baseline, by_metric in differences.items()}
        slices[name] = entry
    curves = {model: [np.sqrt(scores[(run.model, run.seed)].squared_by_step.mean(axis=0)).tolist()
                      for run in planned if run.model == model] for model in models}
    return {"title": title, "data_dir": str(data_dir) if data_dir else None, "windows": first.count,
            "slices": slices, "rmse_by_step": {"times_s": first.times_s, "models": curves}}


def _sample_hz(scores: WindowScores) -> int:
    return int(round(1 / scores.times_s[0]))
