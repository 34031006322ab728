"""Which `_target_`s a configuration may instantiate.

Configs can arrive from outside (a run directory, a registry entry, a checkpoint), so instantiation goes through an
allowlist of module prefixes rather than trusting any importable name.
"""

from __future__ import annotations

from typing import Any, Iterator, Tuple

ALLOWED_TARGET_PREFIXES: Tuple[str, ...] = (
    "drivelab.",
    "experiments.",
    "pytorch_lightning.",
    "torch.optim.",
)


class UnsafeTargetError(ValueError):
    pass


def iter_targets(node: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """Yield (config key, target) for every `_target_` in a plain container."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_" and isinstance(value, str):
                yield where, value
            else:
                yield from iter_targets(value, where)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from iter_targets(value, f"{path}[{index}]")


def check_targets(container: Any) -> None:
    for key, target in iter_targets(container):
        if not target.startswith(ALLOWED_TARGET_PREFIXES):
            allowed = ", ".join(p + "*" for p in ALLOWED_TARGET_PREFIXES)
            raise UnsafeTargetError(f"{key}={target} is not allowed; targets must match one of: {allowed}")


def instantiate(config: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` after checking every target in `config` against the allowlist."""
    from hydra.utils import instantiate as hydra_instantiate
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(config, resolve=True) if OmegaConf.is_config(config) else config
    check_targets(container)
    return hydra_instantiate(container, **kwargs)
