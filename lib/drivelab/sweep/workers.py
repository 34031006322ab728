"""Worker processes that fill one Optuna study with trials, each a `drivelab train` run in its own directory.

Workers on one machine are forked from the sweep process; workers on other machines run the same command against
the same database. A worker loops: fail trials whose worker died (no heartbeat for `grace_s`; the retry callback
queues them again with the same parameters), tally finished, reserved (running, or dead and about to be queued
again) and queued trials, and start one only while they fall short of the number asked for. A trial that still
lost a race (two workers asking at once) ends at once as surplus, so a study ends with exactly the asked number of
finished (complete or pruned) trials however often it is killed and resumed.

Failing a dead trial is one worker at a time: a server database locks the trial's row, and for SQLite, which has no
row locks (two workers could both read a dead trial as running and each queue its retry), a file lock beside the
database does.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import secrets
import socket
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import ContextManager, List, Optional, Tuple

import optuna
from filelock import FileLock
from optuna.trial import FrozenTrial, TrialState

from drivelab.config.validate import compose
from drivelab.errors import DrivelabError
from drivelab.sweep.processes import WorkersFailed, run_in_processes
from drivelab.sweep.space import merge_overrides, trial_overrides
from drivelab.sweep.study_setup import SweepError, SweepPlan, build_pruner, build_sampler, masked, open_storage

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class SurplusTrial(Exception):
    """Raised inside a trial started in a race after the asked number of trials was already under way."""


def run_workers(plan: SweepPlan) -> None:
    """Run the plan's workers (this process alone when there is one) until the study has its trials."""
    if plan.n_workers == 1:
        run_worker(plan, 0)
        return
    try:
        run_in_processes(_worker_process, [(plan, index) for index in range(plan.n_workers)], name="sweep")
    except WorkersFailed as exc:
        raise SweepError(f"{exc}; run the same command again to resume the study") from None


def _worker_process(plan: SweepPlan, index: int) -> None:
    try:
        run_worker(plan, index)
    except DrivelabError as exc:
        print(f"drivelab sweep: worker {index}: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def run_worker(plan: SweepPlan, index: int) -> None:
    import torch

    torch.set_num_threads(plan.torch_threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(plan)
    # Worker k gets seed + k, shifted past the seeds of earlier runs of this study: no two workers, and no resumed
    # run, replay one random sequence (a fresh study with one worker is reproducible).
    seed_offset = index + plan.n_workers * plan.trials_before
    study = optuna.load_study(study_name=plan.study, storage=storage,
                              sampler=build_sampler(plan.sampler, seed_offset=seed_offset),
                              pruner=build_pruner(plan.pruner))
    study_id = storage.get_study_id_from_name(plan.study)
    failures_in_a_row, waiting = 0, False
    while True:
        reap_dead_trials(study, storage, study_id, plan)
        trials = study.get_trials(deepcopy=False)
        finished, reserved, queued = tally(trials, plan)
        if finished >= plan.n_trials:
            return
        if not queued and finished + reserved >= plan.n_trials:
            running = [trial for trial in trials if trial.state == TrialState.RUNNING]
            earlier = [trial.number for trial in running if trial.number < plan.trials_before]
            if earlier and not waiting and index == 0:
                print(f"[{plan.study}] waiting on trial(s) {earlier}, started before this command by another worker "
                      f"or by a run that died; a dead one is re-run {plan.grace_s} s after its last heartbeat "
                      "(sweep.grace_s)", flush=True)
            waiting = True
            time.sleep(min(plan.heartbeat_s, 2))  # the rest are running elsewhere; wait in case a worker dies
            continue
        waiting = False
        ended: List[FrozenTrial] = []
        study.optimize(lambda trial: _objective(trial, plan, storage, study_id), n_trials=1, catch=(Exception,),
                       callbacks=[lambda _study, trial: ended.append(trial)])
        trial = ended[-1]
        print(progress_line(plan, study, trial), flush=True)
        if trial.state == TrialState.FAIL and not trial.user_attrs.get("surplus"):
            failures_in_a_row += 1
            if failures_in_a_row >= plan.max_consecutive_failures:
                raise SweepError(f"{failures_in_a_row} trials failed in a row (last: trial {trial.number}: "
                                 f"{trial.user_attrs.get('error', 'see the log')}); fix the cause and run the "
                                 "same command again")
        elif trial.state != TrialState.FAIL:
            failures_in_a_row = 0


def tally(trials: List[FrozenTrial], plan: SweepPlan) -> Tuple[int, int, int]:
    """(finished, reserved, queued) trials. Reserved: running, or just failed with its worker and about to be queued
    again (Optuna fails a stale trial before it queues the retry; counting it in between keeps its slot)."""
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    now = datetime.datetime.now()
    finished = reserved = queued = 0
    retries = set()
    for trial in sorted(trials, key=lambda trial: trial.number):
        retry = tuple(trial.system_attrs.get("retry_history", ()))
        if retry in retries and trial.state in (TrialState.RUNNING, TrialState.WAITING):
            continue  # a second retry of one dead trial (queued by workers without a shared lock): it will not run
        if retry:
            retries.add(retry)
        if trial.state in FINISHED:
            finished += 1
        elif trial.state == TrialState.RUNNING:
            reserved += 1
        elif trial.state == TrialState.WAITING:
            queued += 1
        elif (trial.state == TrialState.FAIL and "error" not in trial.user_attrs and trial.number not in retried
              and len(trial.system_attrs.get("retry_history", [])) < plan.max_retries
              and (now - trial.datetime_complete).total_seconds() < plan.grace_s):
            reserved += 1  # died with its worker (no error recorded): its retry is on the way
    return finished, reserved, queued


def reap_dead_trials(study: optuna.Study, storage: optuna.storages.RDBStorage, study_id: int, plan: SweepPlan) -> None:
    """Fail the trials whose worker died and queue each one's retry, once, however many workers look at once."""
    with reaper_lock(plan.storage), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        _fail_orphans(study, storage, study_id, plan)


def reaper_lock(storage_url: str) -> ContextManager[None]:
    """Held while a worker fails dead trials and queues their retries (see the module's docstring)."""
    from sqlalchemy.engine import make_url

    url = make_url(storage_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return nullcontext()
    return FileLock(url.database + ".lock")


def _fail_orphans(study: optuna.Study, storage: optuna.storages.RDBStorage, study_id: int, plan: SweepPlan) -> None:
    """Fail (and queue again) running trials that never reached their objective: killed between being created and
    their first heartbeat, they have no heartbeat for Optuna to find stale. `_objective` records a heartbeat before
    it marks the trial started, so a running trial unmarked after `grace_s` has no live worker."""
    now = datetime.datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.user_attrs.get("started_trial") == trial.number  # a retry inherits the attrs of the original
        if started or (now - trial.datetime_start).total_seconds() <= plan.grace_s:
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        retry = storage.get_heartbeat_stale_trial_callback()
        if retry is not None:
            retry(study, storage.get_trial(trial_id))


def _objective(trial: optuna.Trial, plan: SweepPlan, storage: optuna.storages.RDBStorage, study_id: int) -> float:
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    storage.record_heartbeat(trial_id)  # now, not whenever the heartbeat thread gets to it: see _fail_orphans
    trial.set_user_attr("started_trial", trial.number)
    trial.set_user_attr("worker_host", socket.gethostname())
    trial.set_user_attr("worker_pid", os.getpid())
    try:
        _check_not_surplus(trial, storage.get_trial(trial_id).system_attrs.get("retry_history"), plan)
        return _train(trial, plan)
    except Exception as exc:
        if not isinstance(exc, optuna.TrialPruned):  # recorded: a failed trial without an error died with its worker
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise


def _check_not_surplus(trial: optuna.Trial, retry_history: Optional[List[int]], plan: SweepPlan) -> None:
    """Fail at once a trial that lost a race: started when the asked number was already under way, or a second
    retry of one dead trial (queued twice by workers that did not share the reaper lock)."""
    others = [other for other in trial.study.get_trials(deepcopy=False) if other.number < trial.number]
    if retry_history is None:
        finished, reserved, queued = tally(others, plan)
        surplus = finished + reserved + queued >= plan.n_trials
    else:  # a queued retry owns its slot, unless an earlier twin has it
        surplus = any(other.system_attrs.get("retry_history") == retry_history for other in others)
    if surplus:
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number} is not needed: {plan.n_trials} trials are already under way")


def _train(trial: optuna.Trial, plan: SweepPlan) -> float:
    """One trial: compose `drivelab train` with the sampled values and run it in its own run directory."""
    from drivelab.runs import RunDirectory
    from drivelab.runs.training import train
    from drivelab.sweep.pruning import MetricNotLoggedError, OptunaPruning, TrialClock

    started = time.perf_counter()
    values = {param.key: param.suggest(trial) for param in plan.params}
    overrides = merge_overrides(plan.fixed_overrides, trial_overrides(values))
    run_dir = Path(plan.sweep_dir) / "trials" / f"{trial.number:04d}_{secrets.token_hex(3)}"
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("overrides", overrides)
    cfg = compose("train", overrides)
    if cfg.get("logger") and cfg.logger.get("wandb"):
        cfg.logger.wandb.group = plan.study  # one W&B group per sweep; each trial is its own, finished, W&B run
    compose_s = time.perf_counter() - started
    pruning, clock = OptunaPruning(trial, plan.metric, plan.direction), TrialClock()
    status = "failed"
    try:
        train(cfg, run_dir, extra_callbacks=[pruning, clock], report_plots=False)
        status = "completed"
    except optuna.TrialPruned:
        status = "pruned"
        raise
    finally:
        seconds = {"compose": compose_s, **clock.seconds, "total": time.perf_counter() - started}
        trial.set_user_attr("seconds", {name: round(value, 3) for name, value in seconds.items()})
        run = RunDirectory(run_dir)
        if (run.path / "manifest.json").is_file():
            sweep = {"study": plan.study, "storage": masked(plan.storage), "trial": trial.number, "overrides": overrides}
            run.update_manifest(sweep=sweep, **({"status": status} if status == "pruned" else {}))
    value = pruning.best()
    if value is None:
        raise MetricNotLoggedError(f"search.objective.metric={plan.metric} was never logged (did the model train?)")
    if not math.isfinite(value):  # raised, so that the trial records why it failed
        raise FloatingPointError(f"{plan.metric} was {value} at every epoch")
    return value


def progress_line(plan: SweepPlan, study: optuna.Study, trial: FrozenTrial) -> str:
    finished = sum(1 for other in study.get_trials(deepcopy=False) if other.state in FINISHED)
    state = "surplus, not run" if trial.user_attrs.get("surplus") else trial.state.name.lower()
    value = f" {plan.metric}={trial.value:.4f}" if trial.value is not None else ""
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        step = max(trial.intermediate_values)
        value = f" {plan.metric}={trial.intermediate_values[step]:.4f} at epoch {step}"
    seconds = (trial.user_attrs.get("seconds") or {}).get("total")
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    error = f" ({trial.user_attrs['error']})" if trial.state == TrialState.FAIL and "error" in trial.user_attrs else ""
    params = " ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                      for key, value in trial.params.items())
    return f"[{plan.study}] trial {trial.number} {state}{value}{took}{error}  {params}  ({finished}/{plan.n_trials} finished)"
