"""What a sweep fixes before its workers start: the plan they share, the study's database, sampler and pruner.

The database is any SQLAlchemy URL (a SQLite file in the sweep directory by default). Optuna's journal storage is
refused: it has no heartbeats, so a trial whose worker died could never be found and run again.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import optuna

from drivelab.config.validate import ConfigError
from drivelab.errors import DrivelabError
from drivelab.lineage import mask_secrets
from drivelab.sweep.space import Param, SearchSpaceError, override_key

SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "qmc": "QMCSampler", "gp": "GPSampler",
            "cmaes": "CmaEsSampler"}
PRUNERS = {"median": "MedianPruner", "percentile": "PercentilePruner", "hyperband": "HyperbandPruner",
           "successive_halving": "SuccessiveHalvingPruner", "threshold": "ThresholdPruner",
           "wilcoxon": "WilcoxonPruner", "none": "NopPruner"}

class SweepError(DrivelabError):
    pass


@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker needs, as plain values (it is handed to forked worker processes)."""

    study: str
    storage: str
    sweep_dir: str
    n_trials: int
    n_workers: int
    torch_threads: int
    params: Tuple[Param, ...]
    fixed_overrides: Tuple[str, ...]  # every trial's overrides before its sampled values
    metric: str
    direction: str
    sampler: Dict[str, Any]
    pruner: Dict[str, Any]
    heartbeat_s: int
    grace_s: int
    max_retries: int
    max_consecutive_failures: int
    trials_before: int = 0  # trials the study held when this command started (shifts the sampler seeds)

    def fingerprint(self) -> Dict[str, Any]:
        """What makes two commands the same search; machine-specific paths may differ between workers."""
        return {
            "space": {param.key: param.describe() for param in self.params},
            "overrides": [o for o in self.fixed_overrides if not override_key(o).startswith("paths.")],
            "metric": self.metric,
        }


def masked(url: str) -> str:
    """The database URL with its password hidden: what may be printed, logged or written into a manifest."""
    return mask_secrets(url)


def storage_url(configured: Optional[str], sweep_dir: Path) -> str:
    """The study's database: a SQLite file in the sweep directory unless a URL is configured."""
    url = configured or f"sqlite:///{(Path(sweep_dir) / 'study.db').resolve()}"
    if "://" not in url or url.startswith("journal"):
        raise ConfigError(f"sweep.storage={masked(url)} is not a database URL (sqlite:///FILE, postgresql://..., mysql://...); "
                          "Optuna's journal storage has no heartbeats, so a dead worker's trial could not be re-run")
    return url


def open_storage(plan: SweepPlan, heartbeat: bool = True) -> optuna.storages.RDBStorage:
    engine_kwargs = {"connect_args": {"timeout": 60}} if plan.storage.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=plan.max_retries) if heartbeat else None
        try:
            return optuna.storages.RDBStorage(
                plan.storage, engine_kwargs=engine_kwargs,
                heartbeat_interval=plan.heartbeat_s if heartbeat else None,
                grace_period=plan.grace_s if heartbeat else None, heartbeat_stale_trial_callback=retry)
        except Exception as exc:  # SQLAlchemy and driver errors; the URL is what the user can fix
            first = str(exc).split("\n")[0]
            first = first.replace(plan.storage, masked(plan.storage))
            raise ConfigError(f"sweep.storage={masked(plan.storage)}: cannot open the database "
                              f"({type(exc).__name__}: {first})") from None


def build_sampler(spec: Dict[str, Any], seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    name = spec["name"]
    if name not in SAMPLERS:
        raise SearchSpaceError(f"search.sampler.name={name} is not a sampler; choose one of: {', '.join(SAMPLERS)}")
    options = dict(spec.get("options") or {})
    if spec.get("seed") is not None:
        options["seed"] = int(spec["seed"]) + seed_offset
    return _construct(getattr(optuna.samplers, SAMPLERS[name]), options, "search.sampler")


def build_pruner(spec: Dict[str, Any]) -> optuna.pruners.BasePruner:
    name = spec["name"]
    if name not in PRUNERS:
        raise SearchSpaceError(f"search.pruner.name={name} is not a pruner; choose one of: {', '.join(PRUNERS)}")
    options = dict(spec.get("options") or {}) if name != "none" else {}  # pruner=none ignores the file's options
    return _construct(getattr(optuna.pruners, PRUNERS[name]), options, "search.pruner")


def _construct(cls: type, options: Dict[str, Any], key: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return cls(**options)
        except (TypeError, ValueError, ImportError) as exc:
            raise SearchSpaceError(f"{key}.options {options} do not fit optuna {cls.__name__}: {exc}") from None


def prepare_study(plan: SweepPlan) -> Dict[str, int]:
    """Create the study, or check that an existing one is the same search; return its trial counts by state."""
    storage = open_storage(plan, heartbeat=False)
    try:
        if plan.storage.startswith("sqlite"):
            # Write-ahead logging lets workers read while one writes, instead of queueing behind every write.
            with storage.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name=plan.study, storage=storage, direction=plan.direction,
                                    load_if_exists=True)
        fingerprint = plan.fingerprint()
        stored = study.user_attrs.get("drivelab")
        if stored is None:
            study.set_user_attr("drivelab", fingerprint)
        elif stored != fingerprint or study.direction.name.lower() != plan.direction:
            what = [name for name in fingerprint if stored.get(name) != fingerprint[name]] or ["direction"]
            raise SweepError(f"study '{plan.study}' in {masked(plan.storage)} was started with another {' and '.join(what)}; "
                             f"run the command that started it, or choose a new study with sweep.study=NAME")
        return dict(Counter(trial.state.name for trial in study.get_trials(deepcopy=False)))
    finally:
        storage.remove_session()
        storage.engine.dispose()  # no pooled connection may cross the fork into the workers
