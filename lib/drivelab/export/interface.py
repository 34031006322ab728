"""What an exported model takes and returns: raw window arrays in the target-centric frame in, metres out.

A deployed model receives the arrays `drivelab.data.windows.extract` cuts for the present only (no future, no
labels), unnormalised: the models' `InputScaler` buffers hold the training split's statistics, so normalisation is
part of the exported graph and a consumer needs nothing from drivelab. `DeployedModel` wraps a drivelab model into a
module of positional tensors returning a tuple, which both `torch.export` and the ONNX exporter take as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Tuple

import torch
from torch import nn

from drivelab.data.windows.extract import FEATURES, INTENTIONS
from drivelab.errors import DrivelabError
from drivelab.models.base import TaskModel
from drivelab.models.trajectory import Modes, TrajectoryModel, most_likely

FRAME = ("target-centric: origin at the target's position at the present (the last history step), x along its "
         "driving direction, y to its left; metres, metres per second")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: Tuple[str, ...]  # named dimensions; `batch` is dynamic, the others come from the window settings
    dtype: str
    unit: str
    description: str

    def sizes(self, shapes: Mapping[str, Any], batch: int) -> Tuple[int, ...]:
        return tuple(batch if dim == "batch" else dimension_size(dim, shapes) for dim in self.shape)

    def to_json(self, shapes: Mapping[str, Any]) -> Dict[str, Any]:
        entry = asdict(self)
        entry["shape"] = [dim if dim == "batch" else dimension_size(dim, shapes) for dim in self.shape]
        entry["dimensions"] = list(self.shape)
        return entry


def dimension_size(dim: str, shapes: Mapping[str, Any]) -> int:
    fixed = {"features": len(FEATURES), "xy": 2, "classes": len(INTENTIONS)}
    return int(fixed[dim] if dim in fixed else shapes[dim])


INPUTS: Tuple[TensorSpec, ...] = (
    TensorSpec("history", ("batch", "history_steps", "features"), "float32", "m, m/s",
               f"the target's past states {', '.join(FEATURES)}, oldest first, the present last (at x = y = 0)"),
    TensorSpec("neighbours", ("batch", "max_neighbours", "history_steps", "features"), "float32", "m, m/s",
               "the nearest neighbours' past states (nearest first at the present), same features and frame; "
               "zero where absent"),
    TensorSpec("neighbour_mask", ("batch", "max_neighbours", "history_steps"), "bool", "",
               "true where that neighbour slot holds a vehicle at that step"),
    TensorSpec("lane", ("batch", "history_steps"), "int8", "lane index",
               "the target's lane at each history step, 0 = the leftmost lane; -1 = unknown"),
    TensorSpec("lane_count", ("batch",), "int8", "lanes", "lanes of the target's carriageway; 0 = unknown"),
)
INPUT_NAMES = tuple(spec.name for spec in INPUTS)

POSITIONS = TensorSpec("positions", ("batch", "future_steps", "xy"), "float32", "m",
                       "predicted future positions of the target (the most likely mode), one per future step")
MODE_OUTPUTS = (
    TensorSpec("mode_positions", ("batch", "num_modes", "future_steps", "xy"), "float32", "m",
               "every predicted mode's future positions"),
    TensorSpec("mode_probabilities", ("batch", "num_modes"), "float32", "probability",
               "each mode's probability (they sum to 1)"),
)
INTENTION_OUTPUTS = (
    TensorSpec("logits", ("batch", "classes"), "float32", "log-odds",
               f"unnormalised scores of the lane-change intentions {', '.join(INTENTIONS)} within 3 s"),
    TensorSpec("probabilities", ("batch", "classes"), "float32", "probability",
               f"softmax of the logits, in the order {', '.join(INTENTIONS)}"),
)


class NotDeployable(DrivelabError):
    """A model whose forward needs something a deployed model does not receive."""


class InputsOnly(dict):
    """The batch a wrapped model sees: the inputs alone; reading anything else (a label, the future) is an error."""

    def __missing__(self, key: str) -> Any:
        raise NotDeployable(f"its forward reads batch[{key!r}], which a deployed model does not receive "
                            f"(inputs: {', '.join(INPUT_NAMES)})")


def output_specs(model: TaskModel) -> Tuple[TensorSpec, ...]:
    if isinstance(model, TrajectoryModel):
        return (POSITIONS, *MODE_OUTPUTS) if model.num_modes > 1 else (POSITIONS,)
    if model.task == "intention":
        return INTENTION_OUTPUTS
    raise NotDeployable(f"{type(model).__name__} solves {model.task!r}, which has no deployed output layout")


def model_shapes(model: TaskModel) -> Dict[str, Any]:
    """The window sizes a model was built for, with its mode count (sizes of the named dimensions)."""
    shapes = dict(model.shapes)
    shapes["num_modes"] = int(getattr(model, "num_modes", 1))
    return shapes


class DeployedModel(nn.Module):
    """A drivelab model as a function of the input tensors (in `INPUTS` order) to a tuple of output tensors."""

    def __init__(self, model: TaskModel) -> None:
        super().__init__()
        self.model = model.eval()
        self.outputs = output_specs(model)

    def forward(self, history: torch.Tensor, neighbours: torch.Tensor, neighbour_mask: torch.Tensor,
                lane: torch.Tensor, lane_count: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        batch = InputsOnly(history=history, neighbours=neighbours, neighbour_mask=neighbour_mask, lane=lane,
                           lane_count=lane_count)
        output = self.model(batch)
        if self.model.task == "intention":
            return output, torch.softmax(output, dim=-1)
        if isinstance(output, Modes):
            return most_likely(output), output.trajectories, torch.softmax(output.logits, dim=1)
        return (output,)


def batch_inputs(batch: Mapping[str, torch.Tensor], history_steps: int) -> Tuple[torch.Tensor, ...]:
    """The input tensors of a window batch: only the history part of its lanes (the future is not known)."""
    dtypes = {"float32": torch.float32, "bool": torch.bool, "int8": torch.int8}
    values = dict(batch)
    values["lane"] = values["lane"][:, :history_steps]
    return tuple(values[spec.name].to(dtypes[spec.dtype]).contiguous() for spec in INPUTS)


def random_inputs(shapes: Mapping[str, Any], batch: int, generator: torch.Generator) -> Tuple[torch.Tensor, ...]:
    """Random but valid inputs: vehicles moving forward at 0-45 m/s with small lateral speeds, positions consistent
    with their speeds, neighbours within 150 m present for a random part of the history (none, some or every slot),
    known or unknown lanes."""
    steps, slots, hz = int(shapes["history_steps"]), int(shapes["max_neighbours"]), float(shapes["sample_hz"])
    times_s = (torch.arange(steps, dtype=torch.float32) - (steps - 1)) / hz  # ..., -0.2, 0.0

    def states(n: int, origin: torch.Tensor) -> torch.Tensor:
        speed = torch.rand(n, 1, generator=generator) * 45.0
        lateral = (torch.rand(n, 1, generator=generator) - 0.5) * 2.0
        x = origin[:, :1] + speed * times_s
        y = origin[:, 1:] + lateral * times_s
        return torch.stack([x, y, speed.expand(-1, steps), lateral.expand(-1, steps)], dim=-1)

    history = states(batch, torch.zeros(batch, 2))
    origins = (torch.rand(batch * slots, 2, generator=generator) - 0.5) * torch.tensor([300.0, 12.0])
    neighbours = states(batch * slots, origins).view(batch, slots, steps, len(FEATURES))
    present = torch.rand(batch, slots, generator=generator) < torch.rand(batch, 1, generator=generator)
    late = torch.rand(batch, slots, 1, generator=generator) < 0.3  # some arrive during the history
    arrived = torch.randint(0, steps, (batch, slots, 1), generator=generator) * late
    mask = present[..., None] & (torch.arange(steps)[None, None] >= arrived)
    neighbours = neighbours * mask[..., None]
    lane_count = torch.randint(1, 6, (batch,), generator=generator)
    lane = (torch.rand(batch, 1, generator=generator) * lane_count[:, None]).long().expand(-1, steps)
    unknown = torch.rand(batch, generator=generator) < 0.1
    lane = torch.where(unknown[:, None], torch.full_like(lane, -1), lane)
    lane_count = torch.where(unknown, torch.zeros_like(lane_count), lane_count)
    return history, neighbours, mask, lane.to(torch.int8).contiguous(), lane_count.to(torch.int8)


def as_numpy(inputs: Tuple[torch.Tensor, ...]) -> Dict[str, Any]:
    return {name: tensor.numpy() for name, tensor in zip(INPUT_NAMES, inputs)}


def describe(model: TaskModel) -> Dict[str, List[Dict[str, Any]]]:
    shapes = model_shapes(model)
    return {"inputs": [spec.to_json(shapes) for spec in INPUTS],
            "outputs": [spec.to_json(shapes) for spec in output_specs(model)]}
