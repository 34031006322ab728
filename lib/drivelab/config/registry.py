"""What a configuration may instantiate: an explicit registry of configurable classes and functions.

A config can arrive from anywhere (a run directory, a `--params` file, a sweep's best config, a shared study
database), and Hydra resolves a dotted `_target_` by attribute access through whatever a module imported, so a
prefix rule ("anything under drivelab.") would let `drivelab.atomic.shutil.copyfile` through. Instead every target
must be a name listed here exactly, or an object that `experiments/` code marks with `@configurable`; on
instantiation the name is resolved by importing its own module, the object's `__module__` and `__qualname__` must
spell that name, and only that object (never a string) reaches Hydra.

Checking a name needs no import (config-only commands stay fast): listed names are plain strings, and an idea's
name is looked up in its source file, which must lie in the project's `experiments/` folder.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, TypeVar

from drivelab.config.location import conf_dir
from drivelab.errors import DrivelabError

_LIGHTNING_CALLBACKS = ("ModelCheckpoint", "EarlyStopping", "LearningRateMonitor", "RichProgressBar",
                        "TQDMProgressBar", "RichModelSummary", "ModelSummary", "StochasticWeightAveraging",
                        "GradientAccumulationScheduler", "Timer", "DeviceStatsMonitor")
_OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam")
_SCHEDULERS = ("CosineAnnealingLR", "CosineAnnealingWarmRestarts", "StepLR", "MultiStepLR", "ExponentialLR",
               "LinearLR", "ConstantLR", "PolynomialLR", "OneCycleLR", "ReduceLROnPlateau")

# Every configurable object, by the name a config writes, with what it is (shown in errors and docs).
CONFIGURABLE: Dict[str, str] = {
    "drivelab.data.windows.datamodule.WindowDataModule": "data module",
    "drivelab.data.windows.augment.mirror_lateral": "augmentation",
    "drivelab.data.windows.augment.positional_noise": "augmentation",
    "drivelab.data.windows.augment.neighbour_dropout": "augmentation",
    "drivelab.data.windows.augment.time_shift": "augmentation",
    "drivelab.models.physics.ConstantVelocity": "model",
    "drivelab.models.physics.ConstantAcceleration": "model",
    "drivelab.models.mlp.ResidualMLP": "model",
    "drivelab.models.gru.GRUEncoderDecoder": "model",
    "drivelab.models.interaction.InteractionTransformer": "model",
    "drivelab.models.intention.IntentionGRU": "model",
    "drivelab.models.intention.MajorityClass": "model",
    "drivelab.monitoring.health.TrainingHealth": "callback",
    "drivelab.monitoring.nan_guard.NanGuard": "callback",
    "drivelab.monitoring.profile.ProfileWindow": "callback",
    "pytorch_lightning.Trainer": "trainer",
    "drivelab.runs.progress.ProgressBar": "callback",
    "pytorch_lightning.loggers.WandbLogger": "logger",
    "pytorch_lightning.loggers.CSVLogger": "logger",
    "pytorch_lightning.loggers.TensorBoardLogger": "logger",
    **{f"pytorch_lightning.callbacks.{name}": "callback" for name in _LIGHTNING_CALLBACKS},
    **{f"torch.optim.{name}": "optimizer" for name in _OPTIMIZERS},
    **{f"torch.optim.lr_scheduler.{name}": "scheduler" for name in _SCHEDULERS},
    # Hydra's own section: the multirun summary callback and the launchers and sweeper drivelab ships configs for.
    "drivelab.sweep.multirun.MultirunSummary": "hydra callback",
    "hydra._internal.core_plugins.basic_launcher.BasicLauncher": "hydra launcher",
    "hydra._internal.core_plugins.basic_sweeper.BasicSweeper": "hydra sweeper",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher": "hydra launcher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher": "hydra launcher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher": "hydra launcher",
}

# Names written by earlier versions of drivelab (run directories keep them): the same objects under their old paths.
RENAMED: Dict[str, str] = {
    "drivelab.data.datamodule.WindowDataModule": "drivelab.data.windows.datamodule.WindowDataModule",
    "drivelab.data.augment.mirror_lateral": "drivelab.data.windows.augment.mirror_lateral",
    "drivelab.data.augment.positional_noise": "drivelab.data.windows.augment.positional_noise",
    "drivelab.data.augment.neighbour_dropout": "drivelab.data.windows.augment.neighbour_dropout",
    "drivelab.data.augment.time_shift": "drivelab.data.windows.augment.time_shift",
}

IDEAS_PACKAGE = "experiments"
MARK = "configurable"  # the decorator's name, as an idea's source writes it

_marked: Dict[str, Any] = {}  # objects of experiments/ marked @configurable, by name
T = TypeVar("T", bound=Callable[..., Any])


class UnsafeTargetError(DrivelabError, ValueError):
    """A `_target_` that names nothing drivelab lets a config instantiate."""


def configurable(obj: T) -> T:
    """Mark a class or function of `experiments/` as one that configs may instantiate (`_target_: <its path>`)."""
    _marked[qualified_name(obj)] = obj
    return obj


def qualified_name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def ideas_dir() -> Path:
    """The project's `experiments/` folder, beside `conf/` (not whatever `experiments` package is importable)."""
    return conf_dir().parent / IDEAS_PACKAGE


def canonical(name: str) -> str:
    return RENAMED.get(name, name)


def _idea_source(name: str) -> Optional[Tuple[Path, str]]:
    """(source file, object name) of an idea's target `experiments.<idea>[.<module>...].<Object>`, when that file lies
    in the project's experiments/ folder."""
    parts = name.split(".")
    if len(parts) < 3 or parts[0] != IDEAS_PACKAGE or not all(part.isidentifier() for part in parts):
        return None
    folder = ideas_dir().resolve()
    module = folder.joinpath(*parts[1:-1])
    for candidate in (module.with_suffix(".py"), module / "__init__.py"):
        if candidate.is_file() and folder in candidate.resolve().parents:
            return candidate, parts[-1]
    return None


def _marked_in_source(path: Path, object_name: str) -> bool:
    """Whether `path` defines `object_name` at top level under `@configurable` (read, not imported)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == object_name:
            for decorator in node.decorator_list:
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                if (isinstance(called, ast.Name) and called.id == MARK) or \
                        (isinstance(called, ast.Attribute) and called.attr == MARK):
                    return True
    return False


def is_configurable(name: str) -> bool:
    if canonical(name) in CONFIGURABLE:
        return True
    source = _idea_source(name)
    return source is not None and _marked_in_source(*source)


def iter_targets(node: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    """Yield (config key, target) for every `_target_` in a plain container."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                yield where, value
            else:
                yield from iter_targets(value, where)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from iter_targets(value, f"{path}[{index}]")


def check_targets(container: Any) -> None:
    """Raise `UnsafeTargetError` naming the first key whose `_target_` is not configurable."""
    for key, target in iter_targets(container):
        if not isinstance(target, str) or not is_configurable(target):
            raise UnsafeTargetError(f"{key}={target} is not a configurable object (a config may instantiate only "
                                    f"what drivelab.config.registry lists, or an experiments/ object marked @{MARK})")


def _is_named_object(obj: Any, module_path: str, qualname: str) -> bool:
    """The object defined under that name: drivelab's and ideas' objects live in the very module their name gives;
    a library's public name (torch.optim.AdamW) may be defined in a submodule of the same package (torch.optim.adamw)."""
    module = getattr(obj, "__module__", None) or ""
    if getattr(obj, "__qualname__", None) != qualname or not callable(obj):
        return False
    if module_path.split(".")[0] in ("drivelab", IDEAS_PACKAGE):
        return module == module_path
    return module == module_path or module.startswith(module_path.split(".")[0] + ".")


def resolve(name: str) -> Any:
    """The object a configurable name stands for, imported from its own module and checked to be that object."""
    if not is_configurable(name):
        raise UnsafeTargetError(f"{name} is not a configurable object")
    name = canonical(name)
    module_name, _, attribute = name.rpartition(".")
    candidates = [(module_name, attribute)]
    if "." in module_name:  # a class's method or nested class: Outer.inner
        outer_module, _, outer = module_name.rpartition(".")
        candidates.append((outer_module, f"{outer}.{attribute}"))
    for module_path, qualname in candidates:
        try:
            module = importlib.import_module(module_path)
        except ImportError:
            continue
        obj: Any = module
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if obj is None:
            continue
        if not _is_named_object(obj, module_path, qualname):
            raise UnsafeTargetError(f"{name} resolves to {getattr(obj, '__module__', '?')}."
                                    f"{getattr(obj, '__qualname__', '?')}, not to the object it names")
        if module_path.split(".")[0] == IDEAS_PACKAGE and _marked.get(name) is not obj:
            raise UnsafeTargetError(f"{name} is not marked @{MARK} in its module")
        return obj
    raise UnsafeTargetError(f"{name} cannot be imported (is the package that provides it installed?)")


def _bind(node: Any, recursive: bool, top: bool = True) -> Any:
    """A copy of `node` whose `_target_` strings Hydra will instantiate are replaced by the checked objects."""
    if isinstance(node, dict):
        here = node.get("_recursive_", recursive) if top or recursive else False
        bound = {}
        for key, value in node.items():
            if key == "_target_" and isinstance(value, str):
                bound[key] = resolve(value)
            elif here:
                bound[key] = _bind(value, bool(here), top=False)
            else:
                bound[key] = value
        return bound
    if isinstance(node, list) and recursive:
        return [_bind(item, recursive, top=False) for item in node]
    return node


def instantiate(config: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` on configurable objects only: every target is checked before anything is built."""
    from hydra.utils import instantiate as hydra_instantiate
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(config, resolve=True) if OmegaConf.is_config(config) else config
    check_targets(container)
    recursive = kwargs.get("_recursive_", True)
    return hydra_instantiate(_bind(container, recursive), **kwargs)
