"""Typed schemas of drivelab's configuration tree.

`conf/` stays plain YAML (DVC composes it without importing drivelab); these dataclasses are merged over the
composed config by `drivelab.config.validate` before any command does real work.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


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
class SplitConfig:
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0


@dataclass
class WindowsConfig:
    sample_hz: int = 5
    history_s: float = 3.0
    future_s: float = 5.0
    stride_s: float = 1.0
    max_neighbours: int = 8
    neighbour_radius_m: float = 50.0
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class DataConfig:
    _target_: str = MISSING
    windows_dir: str = MISSING
    batch_size: int = 256
    eval_batch_size: int = 1024
    num_workers: int = 0


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


@dataclass
class GRUConfig(ModelConfig):
    hidden_size: int = 64
    num_layers: int = 1
    use_neighbours: bool = True


# Models whose hyperparameters are typed; other targets (ideas under experiments/) are checked by the allowlist only.
MODEL_SCHEMAS: Dict[str, type] = {
    "drivelab.models.physics.ConstantVelocity": ConstantVelocityConfig,
    "drivelab.models.physics.ConstantAcceleration": ConstantAccelerationConfig,
    "drivelab.models.mlp.ResidualMLP": MLPConfig,
    "drivelab.models.gru.GRUEncoderDecoder": GRUConfig,
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
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: Optional[Dict[str, Any]] = None
    callbacks: Optional[Dict[str, Any]] = None
    tags: List[str] = field(default_factory=list)


@dataclass
class EvalCommand:
    run_dir: str = MISSING
    output_dir: Optional[str] = None  # default: the run directory itself
    baseline: Optional[str] = "cv"  # model option evaluated beside the run on the same test split
    paths: PathsConfig = field(default_factory=PathsConfig)
    data_dir: Optional[str] = None  # evaluate on another data directory than the run's own


COMMAND_SCHEMAS: Dict[str, type] = {
    "simulate": SimulateCommand,
    "prepare": PrepareCommand,
    "train": TrainCommand,
    "eval": EvalCommand,
}
