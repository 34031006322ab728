"""One pass over the test windows that answers "where does this model win or lose?".

For every slice (`slices.py`) it reports the model's own metric set (the task decides which) and, for trajectory
models, the same metrics of a physics baseline, the RMSE at every future step, and the worst and some random
windows with their predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

import torch

from drivelab.data.windows.batch import Batch
from drivelab.evaluation.slices import SLICE_DEFINITIONS, slice_masks
from drivelab.models.base import TaskModel
from drivelab.models.trajectory import Modes, TrajectoryModel, as_modes, most_likely

SAMPLE_FIELDS = ("history", "future", "neighbours", "neighbour_mask", "track_id", "frame", "recording")


def select(value: Any, mask: torch.Tensor) -> Any:
    """The rows of a tensor, of `Modes`, or of every tensor in a batch where `mask` holds."""
    if isinstance(value, Modes):
        return Modes(value.trajectories[mask], value.logits[mask])
    if isinstance(value, dict):
        return {key: select(item, mask) for key, item in value.items()}
    return value[mask] if isinstance(value, torch.Tensor) and value.dim() > 0 else value


class KeepTop:
    """The `k` rows with the highest keys seen so far, over a stream of batches."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.keys: Optional[torch.Tensor] = None
        self.rows: Dict[str, torch.Tensor] = {}

    def offer(self, keys: torch.Tensor, rows: Dict[str, torch.Tensor]) -> None:
        if self.k <= 0 or len(keys) == 0:
            return
        if self.keys is not None:
            keys = torch.cat([self.keys, keys])
            rows = {name: torch.cat([self.rows[name], value]) for name, value in rows.items()}
        order = torch.argsort(keys, descending=True, stable=True)[: self.k]
        self.keys, self.rows = keys[order], {name: value[order] for name, value in rows.items()}


@dataclass
class Evaluation:
    model: str
    baseline: Optional[str]
    counts: Dict[str, int] = field(default_factory=dict)
    metrics: Dict[str, Dict[str, Dict[str, float]]] = field(default_factory=dict)  # slice -> model|baseline -> metrics
    rmse_by_step: Dict[str, List[float]] = field(default_factory=dict)  # times_s, model, baseline
    worst: Dict[str, torch.Tensor] = field(default_factory=dict)
    typical: Dict[str, torch.Tensor] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        total = self.counts.get("all", 0)
        slices = {}
        for name, count in self.counts.items():
            entry: Dict[str, Any] = {"count": count, "share": count / total if total else 0.0}
            entry.update(self.metrics.get(name, {}))
            slices[name] = entry
        result: Dict[str, Any] = {"model": self.model, "baseline": self.baseline, "slices": slices,
                                  "definitions": SLICE_DEFINITIONS}
        if self.rmse_by_step:
            result["rmse_by_step"] = self.rmse_by_step
        if self.worst:
            # Where to find the worst windows in the data: recording, track and present frame.
            keys = [key for key in ("recording", "track_id", "frame") if key in self.worst] + ["fde"]
            columns = [self.worst[key].tolist() for key in keys]
            result["worst"] = [dict(zip(keys, row)) for row in zip(*columns)]
        return result

    def flat_metrics(self, prefix: str = "test_slices") -> Dict[str, float]:
        """`{prefix}/{slice}/{metric}` of the model (and each slice's count), for loggers."""
        flat: Dict[str, float] = {}
        for name, count in self.counts.items():
            flat[f"{prefix}/{name}/count"] = float(count)
            for metric, value in self.metrics.get(name, {}).get("model", {}).items():
                flat[f"{prefix}/{name}/{metric}"] = value
        return flat


def _sample_rows(batch: Batch, output: Any, baseline_output: Any) -> Dict[str, torch.Tensor]:
    rows = {name: batch[name] for name in SAMPLE_FIELDS if name in batch}
    modes = as_modes(output)
    rows["modes"], rows["mode_probs"] = modes.trajectories, torch.softmax(modes.logits, dim=1)
    rows["prediction"] = most_likely(output)
    if baseline_output is not None:
        rows["baseline"] = most_likely(baseline_output)
    return rows


def local_metrics(model: TaskModel) -> Any:
    """The model's metric set for a pass in this process alone: under DDP only rank 0 reports, so no syncing."""
    return model.make_metrics(sync_on_compute=False)


@torch.no_grad()
def evaluate(model: TaskModel, batches: Iterable[Batch], baseline: Optional[TaskModel] = None,
             sample_hz: int = 5, worst: int = 8, typical: int = 4, seed: int = 0) -> Evaluation:
    """Slice metrics of `model` (and `baseline`, which must be of the same task) over `batches`."""
    if baseline is not None and baseline.task != model.task:
        raise ValueError(f"baseline {type(baseline).__name__} solves {baseline.task!r}, the model {model.task!r}")
    models = {"model": model, **({"baseline": baseline} if baseline is not None else {})}
    was_training = {name: m.training for name, m in models.items()}
    for m in models.values():
        m.eval()
    metric_sets = {name: {s: local_metrics(m) for s in SLICE_DEFINITIONS} for name, m in models.items()}
    counts = {s: 0 for s in SLICE_DEFINITIONS}
    trajectory = isinstance(model, TrajectoryModel)
    step_sums: Dict[str, torch.Tensor] = {}
    worst_rows, typical_rows = KeepTop(worst), KeepTop(typical)
    generator = torch.Generator().manual_seed(seed)
    for batch in batches:
        batch = {name: value.to(model.device) for name, value in batch.items()}
        outputs = {name: m(batch) for name, m in models.items()}
        for name, mask in slice_masks(batch, sample_hz).items():
            count = int(mask.sum())
            counts[name] += count
            if count:
                sub_batch = select(batch, mask)
                for model_name, m in models.items():
                    m.update_metrics(metric_sets[model_name][name], select(outputs[model_name], mask), sub_batch)
        if trajectory:
            for name, output in outputs.items():
                squared = ((most_likely(output) - batch["future"]).double() ** 2).sum(dim=-1)
                step_sums[name] = step_sums.get(name, 0) + squared.sum(dim=0)
            rows = _sample_rows(batch, outputs["model"], outputs.get("baseline"))
            rows["fde"] = torch.linalg.vector_norm(rows["prediction"][:, -1] - batch["future"][:, -1], dim=-1)
            rows = {name: value.cpu() for name, value in rows.items()}
            worst_rows.offer(rows["fde"], rows)
            typical_rows.offer(torch.rand(len(rows["fde"]), generator=generator), rows)
    for name, m in models.items():
        m.train(was_training[name])
    evaluation = Evaluation(model=type(model).__name__, baseline=type(baseline).__name__ if baseline else None,
                            counts=counts)
    for name in SLICE_DEFINITIONS:  # an empty slice has no metrics (the data may hold no such window)
        evaluation.metrics[name] = {model_name: sets[name].compute() if counts[name] else {}
                                    for model_name, sets in metric_sets.items()}
    if trajectory and counts["all"]:
        evaluation.rmse_by_step["times_s"] = model.future_times_s.tolist()
        for name, sums in step_sums.items():
            evaluation.rmse_by_step[name] = torch.sqrt(sums / counts["all"]).tolist()
        evaluation.worst, evaluation.typical = worst_rows.rows, typical_rows.rows
    return evaluation
