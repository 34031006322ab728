"""Training-time augmentations: small pure functions of a batch of windows, and the `Augmenter` that applies them.

A transform has the signature `fn(batch, generator=None, probability=1.0, **params) -> batch`: it returns a new batch
with the same keys, shapes and dtypes and never modifies its input; `probability` is the share of windows it
transforms (drawn from `generator`, as is any noise). A transform that declares `sample_hz` gets the data version's
rate from the data module. Adding one is a function here (or under `experiments/`) plus a file in `conf/augment/`:

    # @package data.augment
    flip:                                     # the option's name (`augment=[mirror,flip]` composes options)
      _target_: experiments.my_idea.augment.flip
      _partial_: true
      probability: 0.5

Transforms run on training batches only (the train loader's collate step); validation and test never see them.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping, Optional

import torch

from drivelab.data.windows.batch import Batch
from drivelab.data.windows.extract import FEATURES, UNKNOWN_INTENTION, lanes_known
from drivelab.data.windows.spec import INTENTION_HORIZON_S
from drivelab.errors import DrivelabError

Transform = Callable[..., Batch]

X, Y, VX, VY = (FEATURES.index(name) for name in ("x_m", "y_m", "vx_mps", "vy_mps"))
KEEP, LEFT, RIGHT = 0, 1, 2  # intention labels (drivelab.data.windows.extract.INTENTIONS)


def _chosen(batch: Batch, probability: float, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Which windows a transform applies to: all of them at probability 1, otherwise a random share."""
    n = len(batch["history"])
    if probability >= 1.0:
        return torch.ones(n, dtype=torch.bool)
    return torch.rand(n, generator=generator) < probability


def _where(chosen: torch.Tensor, new: Batch, old: Batch) -> Batch:
    """`new` for the chosen windows, `old` for the rest (only the arrays the transform replaced)."""
    if bool(chosen.all()):
        return new
    out = dict(old)
    for name, value in new.items():
        if value is not old[name]:
            out[name] = torch.where(chosen.view(-1, *[1] * (value.dim() - 1)), value, old[name])
    return out


def mirror_lateral(batch: Batch, generator: Optional[torch.Generator] = None, probability: float = 1.0) -> Batch:
    """The scene seen in a mirror along the road: y and lateral speed change sign for the target, its future and its
    neighbours; lanes are renumbered from the other side (lane_count - 1 - lane) and left/right intentions swap
    (unknown lanes and intentions stay unknown). Masks, counts and the lane-change flag are unchanged. Mirroring
    twice gives the batch back exactly."""
    chosen = _chosen(batch, probability, generator)
    # One sign per window (-1 mirrored, +1 kept) multiplied into the lateral channels of a copy: no full-size
    # temporaries and no per-array select (the batch is the size of a training step's input).
    sign = 1.0 - 2.0 * chosen.to(batch["history"].dtype)
    new = dict(batch)
    for name, lateral in (("history", [Y, VY]), ("neighbours", [Y, VY]), ("future", [1])):
        value = batch[name].clone()
        shape = (-1, *[1] * (value.dim() - 2))
        for channel in lateral:
            value[..., channel] *= sign.view(shape)
        new[name] = value
    if "intention" in batch:
        intention = batch["intention"]
        swap = torch.tensor([KEEP, RIGHT, LEFT], dtype=intention.dtype)
        swapped = swap[intention.long().clamp(min=0)]
        new["intention"] = torch.where(chosen & (intention >= 0), swapped, intention)
    if "lane" in batch and "lane_count" in batch:
        lane, count = batch["lane"], batch["lane_count"]
        renumbered = (count[:, None] - 1 - lane).to(lane.dtype)
        new["lane"] = torch.where(chosen[:, None] & (lane >= 0), renumbered, lane)
    return new


def positional_noise(batch: Batch, generator: Optional[torch.Generator] = None, probability: float = 1.0,
                     std_m: float = 0.1, velocity_std_mps: float = 0.0) -> Batch:
    """Gaussian measurement noise on observed positions (and optionally speeds) of the target and its neighbours.

    The target's present position stays at the origin (it defines the frame); absent neighbour slots stay zero;
    the future (the label) is untouched. Only the channels with a scale above 0 get draws (positions alone by
    default), and each array gets its noise in one fused multiply-add into a copy: the Gaussian draws themselves
    are most of what is left (about 0.3 ms per batch of 256 on one core)."""
    if std_m < 0 or velocity_std_mps < 0:
        raise ValueError(f"noise scales must be >= 0, got std_m={std_m}, velocity_std_mps={velocity_std_mps}")
    chosen = _chosen(batch, probability, generator)
    observed = slice(X, VY + 1) if velocity_std_mps > 0 else slice(X, Y + 1)  # features are x, y, vx, vy
    history, neighbours = batch["history"], batch["neighbours"]
    scale = torch.tensor([std_m, std_m, velocity_std_mps, velocity_std_mps], dtype=history.dtype)[observed]
    one_scale = bool((scale == std_m).all())
    new = dict(batch)

    noise = torch.randn((*history.shape[:2], len(scale)), generator=generator)
    noise[:, -1, :2] = 0.0
    new["history"] = history.clone()
    new["history"][..., observed].addcmul_(noise, chosen.to(history.dtype)[:, None, None] * scale)

    noise = torch.randn((*neighbours.shape[:3], len(scale)), generator=generator)
    present = (batch["neighbour_mask"] & chosen[:, None, None]).unsqueeze(-1).to(neighbours.dtype)
    new["neighbours"] = neighbours.clone()
    new["neighbours"][..., observed].addcmul_(noise if one_scale else noise.mul_(scale), present,
                                              value=std_m if one_scale else 1.0)
    return new


def neighbour_dropout(batch: Batch, generator: Optional[torch.Generator] = None, probability: float = 1.0,
                      rate: float = 0.2) -> Batch:
    """Hide each neighbour with probability `rate` (mask off, features zero), as a detector that misses vehicles."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    mask = batch["neighbour_mask"]
    kept = torch.rand(mask.shape[:2], generator=generator) >= rate  # (windows, slots)
    new = dict(batch)
    new["neighbour_mask"] = mask & kept[:, :, None]
    new["neighbours"] = batch["neighbours"] * new["neighbour_mask"].unsqueeze(-1)
    return _where(_chosen(batch, probability, generator), new, batch)


def time_shift(batch: Batch, generator: Optional[torch.Generator] = None, probability: float = 1.0,
               max_shift_steps: int = 2, sample_hz: int = 5) -> Batch:
    """Move the present back by 1..`max_shift_steps` steps: the same vehicle seen a little earlier.

    The target's positions are all known over the shifted span (history and future); its earliest history points,
    now before the stored window, are extrapolated back at its earliest velocity, and neighbours there are masked.
    Everything is re-centred on the new present, and the lane-change flag and intention are recomputed from the
    target's lane at every step (unknown lanes: no lane change, unknown intention, as when the windows were made).
    `track_id`, `frame` and `recording` still name the stored window.
    """
    if "lane" not in batch or "lane_count" not in batch:
        raise ValueError("time_shift needs per-step target lanes; rebuild the windows with `drivelab windows`")
    if max_shift_steps < 1:
        raise ValueError(f"max_shift_steps must be >= 1, got {max_shift_steps}")
    history, future, neighbours, mask = batch["history"], batch["future"], batch["neighbours"], batch["neighbour_mask"]
    n, history_steps = history.shape[:2]
    future_steps = future.shape[1]
    chosen = _chosen(batch, probability, generator)
    shift = torch.randint(1, max_shift_steps + 1, (n,), generator=generator) * chosen
    if not bool(chosen.any()):
        return batch

    steps = torch.arange(history_steps + future_steps)
    source = steps[None, :] - shift[:, None]  # where each new step comes from in the stored span
    before = (-source[:, :history_steps]).clamp(min=0)  # steps before the stored history
    source = source.clamp(min=0)

    positions = torch.cat([history[..., :2], future], dim=1)  # (n, H+F, 2), relative to the old present
    moved = torch.gather(positions, 1, source[..., None].expand(-1, -1, 2))
    first_velocity = history[:, 0, 2:4]
    moved[:, :history_steps] -= first_velocity[:, None, :] * (before[..., None] / sample_hz)
    origin = moved[:, history_steps - 1].clone()
    moved -= origin[:, None, :]

    velocities = torch.gather(history[..., 2:4], 1, source[:, :history_steps, None].expand(-1, -1, 2))
    new = dict(batch)
    new["history"] = torch.cat([moved[:, :history_steps], velocities], dim=-1).to(history.dtype)
    new["future"] = moved[:, history_steps:].to(future.dtype)

    slots = neighbours.shape[1]
    neighbour_source = source[:, None, :history_steps].expand(-1, slots, -1)
    shifted = torch.gather(neighbours, 2, neighbour_source[..., None].expand(-1, -1, -1, neighbours.shape[-1]))
    shifted_mask = torch.gather(mask, 2, neighbour_source) & (before == 0)[:, None, :]
    shifted = shifted.clone()
    shifted[..., :2] -= origin[:, None, None, :]
    new["neighbours"] = shifted * shifted_mask.unsqueeze(-1)
    new["neighbour_mask"] = shifted_mask

    lane = torch.gather(batch["lane"], 1, source)
    present, upcoming = lane[:, history_steps - 1], lane[:, history_steps:]
    new["lane"] = lane
    if "lane_change" in batch:
        changes_lane = (upcoming != present[:, None]).any(dim=1) & lanes_known(lane)
        new["lane_change"] = changes_lane.to(batch["lane_change"].dtype)
    if "intention" in batch:
        horizon = min(future_steps, int(round(INTENTION_HORIZON_S * sample_hz)))
        new["intention"] = intention_labels(present, upcoming[:, :horizon]).to(batch["intention"].dtype)
    return _where(chosen, new, batch)


def intention_labels(present_lane: torch.Tensor, future_lane: torch.Tensor) -> torch.Tensor:
    """0 keep, 1 left, 2 right, -1 unknown lanes: the direction of the first lane change (as
    `drivelab.data.windows.extract.intention_labels`)."""
    changed = future_lane != present_lane[:, None]
    first = changed.long().argmax(dim=1)
    first_lane = future_lane.gather(1, first[:, None])[:, 0]
    labels = torch.zeros(len(present_lane), dtype=torch.long)
    any_change = changed.any(dim=1)
    labels[any_change & (first_lane < present_lane)] = LEFT
    labels[any_change & (first_lane > present_lane)] = RIGHT
    labels[(present_lane < 0) | ~lanes_known(future_lane)] = UNKNOWN_INTENTION
    return labels


class Augmenter:
    """Applies the configured transforms, in order, to each training batch (used as the train loader's collate).

    Randomness comes from its own generator seeded with `seed` (one stream per loader worker), so a training run
    is reproducible and augmentation never disturbs the loader's shuffling.
    """

    def __init__(self, transforms: Mapping[str, Any], seed: int = 0, spec: Optional[Mapping[str, Any]] = None) -> None:
        self.seed = int(seed)
        self.transforms = [(name, _bind(name, transform, spec or {})) for name, transform in transforms.items()]
        self._generator: Optional[torch.Generator] = None
        self._worker: Optional[int] = None

    def __bool__(self) -> bool:
        return bool(self.transforms)

    def __call__(self, batch: Batch) -> Batch:
        generator = self.generator()
        for _, transform in self.transforms:
            batch = transform(batch, generator=generator)
        return batch

    def generator(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else None
        if self._generator is None or worker != self._worker:
            stream = 0 if worker is None else worker + 1
            self._generator = torch.Generator().manual_seed(self.seed * 1_000_003 + stream)
            self._worker = worker
        return self._generator


def _bind(name: str, transform: Any, spec: Mapping[str, Any]) -> Transform:
    """A callable transform from a config entry (`_target_` + `_partial_`) or an already built partial."""
    key = f"data.augment.{name}"
    if isinstance(transform, Mapping):
        from drivelab.config.registry import instantiate

        config = dict(transform)
        config.setdefault("_partial_", True)
        try:
            transform = instantiate(config)
        except Exception as exc:
            raise DrivelabError(f"{key}: cannot build the transform ({exc})") from None
    if not callable(transform):
        raise DrivelabError(f"{key} is not a transform; give it a `_target_` function and `_partial_: true`")
    if isinstance(transform, functools.partial) and type(transform) is not functools.partial:
        # Hydra's partial re-checks its target against every loaded module on each call (~1.4 ms, more than the
        # transform itself, on every training batch); the registry has already checked the resolved function.
        transform = functools.partial(transform.func, *transform.args, **(transform.keywords or {}))
    bound = dict(getattr(transform, "keywords", {}) or {})
    probability = bound.get("probability", 1.0)
    if not isinstance(probability, (int, float)) or not 0.0 <= probability <= 1.0:
        raise DrivelabError(f"{key}.probability={probability} must be a number in [0, 1]")
    function = getattr(transform, "func", transform)
    parameters = inspect.signature(function).parameters
    if "sample_hz" in parameters and "sample_hz" not in bound and "sample_hz" in spec:
        transform = functools.partial(transform, sample_hz=int(spec["sample_hz"]))
    return transform
