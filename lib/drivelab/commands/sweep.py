"""`drivelab sweep search=NAME`: an Optuna study whose trials are `drivelab train` runs.

Everything is checked before the first trial starts: the search space against the training config, the objective
against the metrics the model really logs, the sampler, pruner, storage and `sweep.save_as`. Then the study is
created (or resumed: same command, same study), the workers fill it, and the sweep directory receives the results
table, the best trial's overrides and config, and plots.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, List

from omegaconf import DictConfig, OmegaConf

from drivelab.config.validate import ConfigError
from drivelab.sweep import reports
from drivelab.sweep.probe import validation_metrics
from drivelab.sweep.space import DIRECTIONS, SearchSpaceError, check_space, merge_overrides, override_key, parse_space
from drivelab.sweep.study_setup import (SweepPlan, build_pruner, build_sampler, masked, open_storage, prepare_study,
                                        storage_url)
from drivelab.sweep.workers import run_workers

_SWEEP_KEYS = ("search", "sweep", "hydra")  # overrides of the sweep itself, not of its trials


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, Any]:
    plan = plan_sweep(cfg, Path(run_dir))
    counts = prepare_study(plan)
    plan = dataclasses.replace(plan, trials_before=sum(counts.values()))
    finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
    print(f"sweep '{plan.study}': {finished} of {plan.n_trials} trials finished so far; {plan.n_workers} worker(s) x "
          f"{plan.torch_threads} torch thread(s); storage {masked(plan.storage)}", flush=True)
    import drivelab.runs.training  # noqa: F401  (imported once here, so forked workers start with it loaded)

    try:
        run_workers(plan)
    except BaseException:
        report(plan, None)  # what finished so far; the error (or Ctrl-C) still ends the command
        raise
    return report(plan, cfg.sweep.save_as)


def plan_sweep(cfg: DictConfig, sweep_dir: Path) -> SweepPlan:
    """Validate the whole sweep and fix what every worker needs; raises ConfigError before any trial starts."""
    choice, command_line = _hydra_context()
    where = f"search={choice}"
    search, settings = cfg.search, cfg.sweep
    fixed = merge_overrides(settings.trial_overrides, search.overrides,
                            [o for o in command_line if not override_key(o).startswith(_SWEEP_KEYS)])
    params = parse_space(search.params, where)
    if search.objective.direction not in DIRECTIONS:
        raise SearchSpaceError(f"{where}: search.objective.direction={search.objective.direction}; "
                               f"choose one of: {', '.join(DIRECTIONS)}")
    n_trials = settings.n_trials if settings.n_trials is not None else search.n_trials
    for key, value, least in (("sweep.n_trials", n_trials, 1), ("sweep.n_workers", settings.n_workers, 1),
                              ("sweep.heartbeat_s", settings.heartbeat_s, 1),
                              ("sweep.grace_s", settings.grace_s, settings.heartbeat_s + 1)):
        if value < least:
            raise ConfigError(f"{key}={value} is too small; it must be at least {least}")
    sampler = OmegaConf.to_container(search.sampler, resolve=True)
    pruner = OmegaConf.to_container(search.pruner, resolve=True)
    build_sampler(sampler)
    build_pruner(pruner)
    if settings.save_as:
        reports.experiment_path(settings.save_as, fixed)
    plan = SweepPlan(
        study=settings.study, storage=storage_url(settings.storage, sweep_dir), sweep_dir=str(sweep_dir.resolve()),
        n_trials=int(n_trials), n_workers=settings.n_workers,
        torch_threads=settings.torch_threads or max(1, (os.cpu_count() or 1) // settings.n_workers),
        params=tuple(params), fixed_overrides=tuple(fixed), metric=search.objective.metric,
        direction=search.objective.direction, sampler=sampler, pruner=pruner, heartbeat_s=settings.heartbeat_s,
        grace_s=settings.grace_s, max_retries=settings.max_retries,
        max_consecutive_failures=settings.max_consecutive_failures,
    )
    for trial_cfg in check_space(params, fixed, where):
        _check_objective(trial_cfg, plan.metric, where)
    return plan


def _hydra_context() -> tuple[str, List[str]]:
    """The chosen search option and the command line's overrides (trials are composed from them)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        raise ConfigError("drivelab sweep composes its trials from the command line; run it without --params")
    hydra_cfg = HydraConfig.get()
    return str(hydra_cfg.runtime.choices.get("search")), list(hydra_cfg.overrides.task)


def _check_objective(trial_cfg: DictConfig, metric: str, where: str) -> None:
    trainable, logged = validation_metrics(trial_cfg)
    model = trial_cfg.model.get("_target_")
    if not trainable:
        raise SearchSpaceError(f"{where}: {model} has nothing to train, so there is nothing to search; "
                               "choose a learned model")
    if metric not in logged:
        raise SearchSpaceError(f"{where}: search.objective.metric={metric} is never logged by {model}; "
                               f"choose one of: {', '.join(logged)}")


def report(plan: SweepPlan, save_as: str | None) -> Dict[str, Any]:
    import optuna

    sweep_dir = Path(plan.sweep_dir)
    storage = open_storage(plan, heartbeat=False)
    study = optuna.load_study(study_name=plan.study, storage=storage)
    reports.settle_manifests(study)
    rows = reports.trial_rows(study, plan.metric)
    results = reports.write_results(sweep_dir, rows)
    states = {state: sum(1 for row in rows if row["state"] == state)
              for state in ("complete", "pruned", "fail", "waiting")}
    print(reports.results_table(rows, plan.metric, plan.direction, [param.key for param in plan.params]))
    print(f"trials: {states['complete']} complete, {states['pruned']} pruned, {states['fail']} failed; "
          f"table: {results}")
    queued = reports.queued_retries(study)
    if queued:
        print(reports.queued_note(queued, plan.n_trials))
    best = reports.export_best(study, sweep_dir, plan.metric)
    summary: Dict[str, Any] = {"study": plan.study, "states": states, "queued_retries": queued}
    if best is None:
        print("no complete trial yet, so no best configuration")
    else:
        summary.update(best_trial=best.number, best_value=best.value, best_params=best.params)
        print(f"best: trial {best.number}, {plan.metric} = {best.value:.4f}; "
              f"{sweep_dir / reports.BEST_OVERRIDES_FILE}, {sweep_dir / reports.BEST_CONFIG_FILE}")
        if save_as:
            path = reports.write_experiment(reports.experiment_path(save_as), best, plan.study, plan.metric)
            print(f"saved as experiment: {path} (drivelab train experiment={save_as})")
    skipped = reports.save_plots(study, sweep_dir)
    note = "; ".join(f"{name} skipped: {why}" for name, why in skipped.items())
    print(f"plots: {sweep_dir / reports.PLOTS_DIR}" + (f" ({note})" if note else ""))
    return summary
