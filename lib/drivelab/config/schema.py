"""Typed schemas of drivelab's configuration tree.

`conf/` stays plain YAML (DVC composes it without importing drivelab); these dataclasses are merged over the
composed config by `drivelab.config.validate` before any command does real work.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from drivelab.data.windows.spec import WindowSpec


@dataclass
class PathsConfig:
    root_dir: str = "."
    data_dir: str = MISSING
    runs_dir: str = MISSING


@dataclass
class SimulateConfig:
    episodes: int = 36
    seed: int = 0
    workers: int = 2
    duration_s: float = 40.0
    sample_hz: int = 10
    lanes: int = 3
    vehicles: int = 20
    speed_range_mps: List[float] = field(default_factory=lambda: [18.0, 34.0])
    randomize_behavior: bool = True
    truck_fraction: float = 0.1
    road_length_m: float = 2500.0


@dataclass
class SourceConfig:
    name: str = MISSING
    format: str = MISSING
    path: str = MISSING


@dataclass
class CleanConfig:
    workers: int = 2  # worker processes for ingest and clean (one recording per task)
    max_jump_m: float = 3.0  # largest position miss, against the speeds, that is not a tracking jump


# Window settings: the fields are WindowSpec's, the defaults are conf/windows/default.yaml's (the one place for them).
@dataclass
class SplitConfig:
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    seed: int = MISSING


@dataclass
class WindowsConfig(WindowSpec):
    shard_mb: float = MISSING  # MiB of windows per shard file set
    workers: int = MISSING  # windowing processes (output identical for any number)
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class DataConfig:
    _target_: str = MISSING
    windows_dir: str = MISSING
    batch_size: int = 256
    eval_batch_size: int = 1024
    num_workers: int = 0
    augment: Dict[str, Any] = field(default_factory=dict)  # training-time transforms (conf/augment), by name
    augment_seed: int = 0  # seed of the transforms' random stream


@dataclass
class HealthConfig:
    # Defaults equal conf/health/default.yaml, so configs saved before this section existed still validate.
    windows_dir: str = "${paths.data_dir}/windows"  # the data version described
    data_dir: str = "${paths.data_dir}"  # where the pipeline's stages leave their records
    output_dir: str = "${paths.root_dir}/reports/health"  # health.json and plots/
    max_windows: int = 1_000_000  # windows sampled evenly for the distributions
    lane_half_width_m: float = 1.75  # lateral offset within which a neighbour ahead is the leader
    plot_bins: int = 40


@dataclass
class ModelConfig:
    _target_: str = MISSING
    optimizer: Optional[Dict[str, Any]] = None
    scheduler: Optional[Dict[str, Any]] = None


@dataclass
class ConstantVelocityConfig(ModelConfig):
    lateral_speed: bool = True


@dataclass
class ConstantAccelerationConfig(ModelConfig):
    pass


@dataclass
class MLPConfig(ModelConfig):
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.0
    use_neighbours: bool = True
    neighbour_steps: int = 1
    neighbour_pooling: str = "flat"  # flat (slots side by side) | max (embedded one by one, max-pooled)
    use_lanes: bool = False  # feed the target's lane history and which neighbouring lanes exist
    num_modes: int = 1  # trajectories per sample; > 1 adds mode probabilities (a multimodal head)
    mode_loss: str = "wta"  # wta | nll, used when num_modes > 1


@dataclass
class GRUConfig(ModelConfig):
    hidden_size: int = 64
    num_layers: int = 1
    use_neighbours: bool = True
    cell: str = "gru"  # gru | lstm
    use_lanes: bool = False
    num_modes: int = 1
    mode_loss: str = "wta"


@dataclass
class InteractionConfig(ModelConfig):
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    dropout: float = 0.0
    hidden_size: int = 256
    use_lanes: bool = False
    num_modes: int = 1
    mode_loss: str = "wta"


@dataclass
class IntentionGRUConfig(ModelConfig):
    hidden_size: int = 64
    num_layers: int = 1
    use_neighbours: bool = True
    cell: str = "gru"
    use_lanes: bool = False
    class_weights: Optional[List[float]] = None  # cross-entropy weight per class (keep, left, right)


@dataclass
class MajorityClassConfig(ModelConfig):
    class_weights: Optional[List[float]] = None


# Models whose hyperparameters are typed; other targets (ideas under experiments/) are checked by the allowlist only.
MODEL_SCHEMAS: Dict[str, type] = {
    "drivelab.models.physics.ConstantVelocity": ConstantVelocityConfig,
    "drivelab.models.physics.ConstantAcceleration": ConstantAccelerationConfig,
    "drivelab.models.mlp.ResidualMLP": MLPConfig,
    "drivelab.models.gru.GRUEncoderDecoder": GRUConfig,
    "drivelab.models.interaction.InteractionTransformer": InteractionConfig,
    "drivelab.models.intention.IntentionGRU": IntentionGRUConfig,
    "drivelab.models.intention.MajorityClass": MajorityClassConfig,
}


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    max_epochs: int = 20
    min_epochs: int = 1
    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Any = "32-true"
    deterministic: bool = True
    gradient_clip_val: Optional[float] = None
    accumulate_grad_batches: int = 1
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    limit_test_batches: Any = 1.0
    overfit_batches: Any = 0.0
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 20
    num_sanity_val_steps: int = 0
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    profiler: Optional[str] = None
    detect_anomaly: bool = False


@dataclass
class SimulateCommand:
    paths: PathsConfig = field(default_factory=PathsConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)


@dataclass
class PrepareCommand:
    paths: PathsConfig = field(default_factory=PathsConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    windows: WindowsConfig = field(default_factory=WindowsConfig)


@dataclass
class TrainCommand:
    seed: int = 42
    task_name: str = "train"
    ckpt_path: Optional[str] = None  # resume from this checkpoint
    test_after_fit: bool = True
    paths: PathsConfig = field(default_factory=PathsConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    model: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: Optional[Dict[str, Any]] = None
    callbacks: Optional[Dict[str, Any]] = None
    tags: List[str] = field(default_factory=list)


@dataclass
class EvalCommand:
    run_dir: Optional[str] = None  # one run to evaluate
    run_dirs: List[str] = field(default_factory=list)  # several runs, compared in one table
    report: bool = True  # one run: slice metrics and plots beside eval_metrics.json
    output_dir: Optional[str] = None  # default: the run directory itself
    baseline: Optional[str] = "cv"  # model option evaluated beside the run on the same test split
    paths: PathsConfig = field(default_factory=PathsConfig)
    data_dir: Optional[str] = None  # evaluate on another data directory than the run's own


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
    metric: str = "val/rmse_5s"
    direction: str = "minimize"


@dataclass
class SamplerSpec:
    """An Optuna sampler by name, with keyword arguments for its class."""
    name: str = "tpe"
    seed: Optional[int] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class PrunerSpec:
    """An Optuna pruner by name, with keyword arguments for its class."""
    name: str = "median"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchConfig:
    name: str = MISSING
    objective: SearchObjective = field(default_factory=SearchObjective)
    n_trials: int = 20
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    overrides: List[str] = field(default_factory=list)
    params: Dict[str, SearchParam] = field(default_factory=dict)


@dataclass
class SweepSettings:
    study: str = MISSING
    dir: str = MISSING
    storage: Optional[str] = None
    n_trials: Optional[int] = None
    n_workers: int = 1
    torch_threads: Optional[int] = None
    heartbeat_s: int = 10
    grace_s: int = 60
    max_retries: int = 3
    max_consecutive_failures: int = 3
    save_as: Optional[str] = None
    trial_overrides: List[str] = field(default_factory=list)


@dataclass
class SweepCommand(TrainCommand):
    search: SearchConfig = field(default_factory=SearchConfig)
    sweep: SweepSettings = field(default_factory=SweepSettings)


@dataclass
class HealthCommand:
    paths: PathsConfig = field(default_factory=PathsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)


COMMAND_SCHEMAS: Dict[str, type] = {
    "health": HealthCommand,
    "simulate": SimulateCommand,
    "prepare": PrepareCommand,
    "train": TrainCommand,
    "eval": EvalCommand,
    "sweep": SweepCommand,
}
