"""Typed schemas of drivelab's configuration tree.

`conf/` stays plain YAML (DVC composes it without importing drivelab); these dataclasses are merged over the
composed config by `drivelab.config.validate` before any command does real work. They type the keys; the values a
user gets by default live in conf/ alone (fields here are MISSING), and a test checks that conf/ sets every key.
The Trainer's and the models' schemas are generated from their signatures (`generated.py`).
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from drivelab.config.generated import TrainerConfig
from drivelab.data.windows.spec import WindowSpec


@dataclass
class PathsConfig:
    root_dir: str = MISSING
    data_dir: str = MISSING
    runs_dir: str = MISSING


@dataclass
class SimulateConfig:
    episodes: int = MISSING
    seed: int = MISSING
    workers: int = MISSING
    backend: str = MISSING  # the simulator: highway_env | sumo (drivelab.sim.recordings.SIMULATORS)
    pool: str = MISSING  # local | dask (drivelab.pool)
    scheduler: Optional[str] = MISSING  # Dask scheduler address
    duration_s: float = MISSING
    sample_hz: int = MISSING
    lanes: int = MISSING
    vehicles: int = MISSING
    speed_range_mps: List[float] = MISSING
    randomize_behavior: bool = MISSING
    truck_fraction: float = MISSING
    road_length_m: float = MISSING


@dataclass
class SourceConfig:
    name: str = MISSING
    format: str = MISSING
    path: str = MISSING


@dataclass
class CleanConfig:
    workers: int = MISSING  # worker processes for ingest and clean (one recording per task)
    backend: str = MISSING  # local | dask (drivelab.pool)
    scheduler: Optional[str] = MISSING  # Dask scheduler address
    max_jump_m: float = MISSING  # largest position miss, against the speeds, that is not a tracking jump


# Window settings: the fields are WindowSpec's, the defaults are conf/windows/default.yaml's (the one place for them).
class SplitBy(Enum):
    recording = "recording"  # whole recordings per split
    time = "time"  # contiguous time blocks of every recording, a guard gap apart


@dataclass
class SplitConfig:
    by: SplitBy = MISSING
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    seed: int = MISSING


@dataclass
class WindowsConfig(WindowSpec):
    shard_mb: float = MISSING  # MiB of windows per shard file set
    workers: int = MISSING  # windowing processes (output identical for any number)
    backend: str = MISSING  # local | dask (drivelab.pool)
    scheduler: Optional[str] = MISSING  # Dask scheduler address
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class DataConfig:
    _target_: str = MISSING
    windows_dir: str = MISSING
    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    num_workers: int = MISSING
    augment: Dict[str, Any] = MISSING  # training-time transforms (conf/augment), by name
    augment_seed: int = MISSING  # seed of the transforms' random stream


@dataclass
class HealthConfig:
    windows_dir: str = MISSING  # the data version described
    data_dir: str = MISSING  # where the pipeline's stages leave their records
    output_dir: str = MISSING  # health.json and plots/
    max_windows: int = MISSING  # windows sampled evenly for the distributions
    lane_half_width_m: float = MISSING  # lateral offset within which a neighbour ahead is the leader
    plot_bins: int = MISSING


@dataclass
class SimulateCommand:
    lock_timeout_s: float = MISSING  # how long to wait for another command writing paths.data_dir
    paths: PathsConfig = field(default_factory=PathsConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)


@dataclass
class PrepareCommand:
    lock_timeout_s: float = MISSING  # how long to wait for another command writing paths.data_dir
    paths: PathsConfig = field(default_factory=PathsConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    verbose: bool = MISSING  # every library line on the console, not only in the log


# Sections of the composed tree that data preparation reads; `train`, `eval` and `sweep` run on windows already built,
# so an override of these there would change nothing. Each is owned by the command named here.
DATA_PREPARATION: Dict[str, str] = {
    "simulate": "drivelab simulate",
    "source": "drivelab prepare (or ingest)",
    "clean": "drivelab prepare (or clean)",
    "windows": "drivelab prepare (or windows)",
    "health": "drivelab health",
}


# Sections of the training tree (DVC's params.yaml) that a later pipeline stage reads, by the command that owns them:
# `drivelab train` carries them for DVC and refuses overrides of them.
LATER_STAGES: Dict[str, str] = {
    "export": "drivelab export",
    "gate": "drivelab gate",
}


@dataclass
class FaultConfig:
    nan_at_step: Optional[int] = MISSING  # multiply the training loss at this step by NaN


@dataclass
class TrainCommand:
    seed: int = MISSING
    task_name: str = MISSING
    ckpt_path: Optional[str] = MISSING  # resume from this checkpoint
    resume: Optional[str] = MISSING  # auto: continue an unfinished run from its newest good checkpoint
    run_dir: Optional[str] = MISSING  # with resume=auto: the run to continue (else the newest unfinished one)
    lock_timeout_s: float = MISSING  # how long to wait for a command writing the data folder
    test_after_fit: bool = MISSING
    report_plots: bool = MISSING  # draw the test report's PNG plots
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: Optional[Dict[str, Any]] = MISSING
    callbacks: Optional[Dict[str, Any]] = MISSING
    tags: List[str] = MISSING
    fault: FaultConfig = field(default_factory=FaultConfig)
    verbose: bool = MISSING  # every library line on the console, not only in train.log


class EvalSplit(Enum):
    test = "test"  # the data version's test split
    all = "all"  # every window of it (a data version used only for testing)


@dataclass
class EvalSettings:
    split: EvalSplit = MISSING


@dataclass
class EvalCommand:
    run_dir: Optional[str] = MISSING  # one run to evaluate
    run_dirs: List[str] = MISSING  # several runs, compared in one table
    report: bool = MISSING  # one run: slice metrics and plots beside eval_metrics.json
    output_dir: Optional[str] = MISSING  # default: the run directory itself
    baseline: Optional[str] = MISSING  # model option evaluated beside the run on the same test split
    paths: PathsConfig = field(default_factory=PathsConfig)
    data_dir: Optional[str] = MISSING  # evaluate on another data directory than the run's own
    eval: EvalSettings = field(default_factory=EvalSettings)
    verbose: bool = MISSING  # every library line on the console


@dataclass
class SearchParam:
    """One searched config key (or config group): its distribution."""
    type: str = MISSING  # int | float | categorical
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Optional[List[Any]] = None


@dataclass
class SearchObjective:
    metric: str = MISSING
    direction: str = MISSING


@dataclass
class SamplerSpec:
    """An Optuna sampler by name, with keyword arguments for its class."""
    name: str = MISSING
    seed: Optional[int] = MISSING
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class PrunerSpec:
    """An Optuna pruner by name, with keyword arguments for its class."""
    name: str = MISSING
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchConfig:
    name: str = MISSING
    objective: SearchObjective = field(default_factory=SearchObjective)
    n_trials: int = MISSING
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    overrides: List[str] = field(default_factory=list)
    params: Dict[str, SearchParam] = field(default_factory=dict)


@dataclass
class SweepSettings:
    study: str = MISSING
    dir: str = MISSING
    storage: Optional[str] = MISSING
    n_trials: Optional[int] = MISSING
    n_workers: int = MISSING
    torch_threads: Optional[int] = MISSING
    heartbeat_s: int = MISSING
    grace_s: int = MISSING
    max_retries: int = MISSING
    max_consecutive_failures: int = MISSING
    save_as: Optional[str] = MISSING
    trial_overrides: List[str] = field(default_factory=list)


@dataclass
class SweepCommand(TrainCommand):
    search: SearchConfig = field(default_factory=SearchConfig)
    sweep: SweepSettings = field(default_factory=SweepSettings)


@dataclass
class CompareSettings:
    baselines: List[str] = MISSING  # model options compared with the idea
    seeds: int = MISSING  # runs per model
    eval_data: List[str] = MISSING  # more data folders scored window by window
    rerun: bool = MISSING  # train again even where the run cache has the run
    workers: int = MISSING  # training processes side by side
    torch_threads: Optional[int] = MISSING
    bootstrap_samples: int = MISSING
    confidence: float = MISSING
    bootstrap_seed: int = MISSING


@dataclass
class CompareCommand(TrainCommand):
    compare: CompareSettings = field(default_factory=CompareSettings)


@dataclass
class HealthCommand:
    paths: PathsConfig = field(default_factory=PathsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)


@dataclass
class ParitySettings:
    batch_sizes: List[int] = MISSING  # each on real test windows and random valid inputs
    test_windows: int = MISSING  # real test windows compared
    tolerance_m: float = MISSING  # largest absolute difference allowed
    seed: int = MISSING


@dataclass
class LatencySettings:
    batch_sizes: List[int] = MISSING
    warmup_calls: int = MISSING
    timed_calls: int = MISSING
    threads: int = MISSING


@dataclass
class ExportSettings:
    formats: List[str] = MISSING  # onnx | pt2
    parity: ParitySettings = field(default_factory=ParitySettings)
    latency: LatencySettings = field(default_factory=LatencySettings)


@dataclass
class ExportCommand:
    run_dir: Optional[str] = MISSING
    output_dir: Optional[str] = MISSING  # default: <run_dir>/export
    data_dir: Optional[str] = MISSING  # test windows for parity from another data folder
    paths: PathsConfig = field(default_factory=PathsConfig)
    export: ExportSettings = field(default_factory=ExportSettings)


@dataclass
class FrozenDataSettings:
    revision: str = MISSING  # git revision (or workspace) whose dvc.lock records the windows
    path: str = MISSING  # the windows output in that dvc.lock


@dataclass
class GateMetricThresholds:
    max_rmse_5s_m: float = MISSING
    max_miss_rate: float = MISSING
    max_lane_change_rmse_5s_m: float = MISSING
    max_dense_rmse_5s_m: float = MISSING


@dataclass
class GateBaselineSettings:
    min_improvement: float = MISSING  # RMSE@5s <= (1 - this) x constant velocity's


@dataclass
class GateIncumbentSettings:
    run_dir: Optional[str] = MISSING
    metrics: List[str] = MISSING
    tolerance: float = MISSING


@dataclass
class GateBehaviourSettings:
    neighbour_radius_m: float = MISSING
    stopped_max_displacement_m: float = MISSING
    free_road_speed_mps: float = MISSING
    free_road_max_lateral_m: float = MISSING
    free_road_max_speed_change_mps: float = MISSING
    closing_speed_mps: float = MISSING
    closing_gap_m: float = MISSING
    closing_max_overlap_m: float = MISSING
    translation_offset_m: List[float] = MISSING
    translation_max_change_m: float = MISSING
    extreme_speed_mps: float = MISSING
    max_non_finite: int = MISSING


@dataclass
class GateExportSettings:
    formats: List[str] = MISSING
    latency_batch: int = MISSING
    max_p99_ms: float = MISSING


@dataclass
class GateSettings:
    data: FrozenDataSettings = field(default_factory=FrozenDataSettings)
    metrics: GateMetricThresholds = field(default_factory=GateMetricThresholds)
    baseline: GateBaselineSettings = field(default_factory=GateBaselineSettings)
    incumbent: GateIncumbentSettings = field(default_factory=GateIncumbentSettings)
    behaviour: GateBehaviourSettings = field(default_factory=GateBehaviourSettings)
    export: GateExportSettings = field(default_factory=GateExportSettings)


@dataclass
class GateCommand:
    run_dir: Optional[str] = MISSING
    output_dir: Optional[str] = MISSING  # default: <run_dir>/gate
    fail_on_reject: bool = MISSING  # exit non-zero when any check fails
    paths: PathsConfig = field(default_factory=PathsConfig)
    export: ExportSettings = field(default_factory=ExportSettings)
    gate: GateSettings = field(default_factory=GateSettings)


@dataclass
class PromoteCommand:
    run_dir: Optional[str] = MISSING
    stage: Optional[str] = MISSING  # one of the stages in .gto
    name: str = MISSING  # the registered model's name
    reason: Optional[str] = MISSING  # why: goes into the commit and the tags
    paths: PathsConfig = field(default_factory=PathsConfig)
    export: ExportSettings = field(default_factory=ExportSettings)
    gate: GateSettings = field(default_factory=GateSettings)


@dataclass
class PredictSource:
    name: str = MISSING
    format: str = MISSING
    path: Optional[str] = MISSING  # the input, when it is recordings


@dataclass
class PredictDrift:
    statistic: str = MISSING
    threshold: float = MISSING
    max_windows: int = MISSING


@dataclass
class PredictSettings:
    batch_size: int = MISSING
    threads: int = MISSING
    on_drift: str = MISSING  # warn | fail
    drift: PredictDrift = field(default_factory=PredictDrift)
    top_scenes: int = MISSING
    work_dir: Optional[str] = MISSING


@dataclass
class PredictCommand:
    model: str = MISSING
    input: Optional[str] = MISSING
    output: Optional[str] = MISSING
    shadow: Optional[str] = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    source: PredictSource = field(default_factory=PredictSource)
    clean: CleanConfig = field(default_factory=CleanConfig)
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    predict: PredictSettings = field(default_factory=PredictSettings)


@dataclass(frozen=True)
class Range:
    """Where a number must lie: above `low` (or at it, if `low_inclusive`) and below `high` (or at it)."""
    low: Optional[float] = None
    high: Optional[float] = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def holds(self, value: float) -> bool:
        above = self.low is None or (value >= self.low if self.low_inclusive else value > self.low)
        below = self.high is None or (value <= self.high if self.high_inclusive else value < self.high)
        return above and below

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high:g}")
        return " and ".join(parts)


AT_LEAST_ONE, POSITIVE, NOT_NEGATIVE, SHARE = Range(1), Range(0, low_inclusive=False), Range(0), Range(0, 1)
FRACTION_OF_RECORDINGS = Range(0, 1, high_inclusive=False)

# Checked before a command starts, so that a value out of range fails in one line with nothing written.
RANGES: Dict[str, Range] = {
    "simulate.episodes": AT_LEAST_ONE, "simulate.workers": AT_LEAST_ONE, "simulate.duration_s": POSITIVE,
    "simulate.sample_hz": AT_LEAST_ONE, "simulate.lanes": AT_LEAST_ONE, "simulate.vehicles": AT_LEAST_ONE,
    "simulate.truck_fraction": SHARE, "simulate.road_length_m": POSITIVE,
    "clean.workers": AT_LEAST_ONE, "clean.max_jump_m": POSITIVE,
    "windows.sample_hz": AT_LEAST_ONE, "windows.history_s": POSITIVE, "windows.future_s": POSITIVE,
    "windows.stride_s": POSITIVE, "windows.max_neighbours": NOT_NEGATIVE, "windows.neighbour_radius_m": POSITIVE,
    "windows.shard_mb": POSITIVE, "windows.workers": AT_LEAST_ONE,
    "windows.split.val_fraction": FRACTION_OF_RECORDINGS, "windows.split.test_fraction": FRACTION_OF_RECORDINGS,
    "data.batch_size": AT_LEAST_ONE, "data.eval_batch_size": AT_LEAST_ONE, "data.num_workers": NOT_NEGATIVE,
    "health.max_windows": AT_LEAST_ONE, "health.plot_bins": AT_LEAST_ONE, "health.lane_half_width_m": POSITIVE,
    "sweep.n_workers": AT_LEAST_ONE, "sweep.heartbeat_s": AT_LEAST_ONE, "sweep.max_retries": NOT_NEGATIVE,
    "sweep.max_consecutive_failures": AT_LEAST_ONE, "search.n_trials": AT_LEAST_ONE,
    "trainer.devices": AT_LEAST_ONE, "trainer.num_nodes": AT_LEAST_ONE, "trainer.accumulate_grad_batches": AT_LEAST_ONE,
    "trainer.limit_train_batches": NOT_NEGATIVE, "trainer.limit_val_batches": NOT_NEGATIVE,
    "trainer.limit_test_batches": NOT_NEGATIVE, "trainer.log_every_n_steps": AT_LEAST_ONE,
    "fault.nan_at_step": NOT_NEGATIVE,
    "callbacks.training_health.every_n_steps": AT_LEAST_ONE, "callbacks.training_health.stall_after_s": NOT_NEGATIVE,
    "callbacks.training_health.data_bound_share": SHARE,
    "export.parity.test_windows": AT_LEAST_ONE, "export.parity.tolerance_m": NOT_NEGATIVE,
    "export.latency.warmup_calls": NOT_NEGATIVE, "export.latency.timed_calls": AT_LEAST_ONE,
    "export.latency.threads": AT_LEAST_ONE,
    "gate.baseline.min_improvement": Range(high=1, high_inclusive=False), "gate.incumbent.tolerance": NOT_NEGATIVE,
    "gate.export.latency_batch": AT_LEAST_ONE, "gate.export.max_p99_ms": POSITIVE,
    "gate.behaviour.neighbour_radius_m": POSITIVE, "gate.behaviour.closing_gap_m": POSITIVE,
    "compare.seeds": AT_LEAST_ONE, "compare.workers": AT_LEAST_ONE, "compare.bootstrap_samples": AT_LEAST_ONE,
    "compare.confidence": Range(0, 1, low_inclusive=False, high_inclusive=False),
    "predict.batch_size": AT_LEAST_ONE, "predict.threads": AT_LEAST_ONE, "predict.top_scenes": NOT_NEGATIVE,
    "predict.drift.threshold": NOT_NEGATIVE, "predict.drift.max_windows": AT_LEAST_ONE,
    "lock_timeout_s": NOT_NEGATIVE,
}
# Values that must fit together.
SUMS_BELOW_ONE = (("windows.split.val_fraction", "windows.split.test_fraction"),)


COMMAND_SCHEMAS: Dict[str, type] = {
    "health": HealthCommand,
    "simulate": SimulateCommand,
    "prepare": PrepareCommand,
    "train": TrainCommand,
    "eval": EvalCommand,
    "sweep": SweepCommand,
    "export": ExportCommand,
    "gate": GateCommand,
    "compare": CompareCommand,
    "promote": PromoteCommand,
    "predict": PredictCommand,
}
