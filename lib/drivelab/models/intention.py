"""The second task: lane-change intention. From the same windows, classify whether the target keeps its lane or
changes left or right within the next 3 s (labels `intention`: 0 keep, 1 left, 2 right, made with the windows).
Scored with accuracy and macro-F1, so that the rare lane changes weigh as much as the common keep class."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
from torch import nn

from drivelab.data.windows.batch import Batch
from drivelab.data.windows.extract import INTENTIONS
from drivelab.errors import DrivelabError
from drivelab.metrics import ClassificationMetrics
from drivelab.models.base import MetricSet, TaskModel
from drivelab.models.features import (InputScaler, encode_present, lane_context, lane_context_size, max_pool_present,
                                      present_neighbours)
from drivelab.models.gru import CELLS, last_hidden


def known_labels(batch: Batch) -> torch.Tensor:
    """The batch's intention labels; windows whose lanes are unknown have none, which is an error for this task."""
    labels = batch["intention"]
    if bool((labels < 0).any()):
        raise DrivelabError("these windows have no lane-change intention labels: their source has no lanes "
                            "(e.g. source=interaction); train a trajectory model on them instead")
    return labels


class IntentionModel(TaskModel):
    """`forward(batch)` returns (batch, classes) logits."""

    task = "intention"
    monitor = ("macro_f1", "max")
    classes = INTENTIONS

    def __init__(self, shapes: Dict[str, Any], class_weights: Optional[List[float]] = None, **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        if class_weights is not None and len(class_weights) != len(self.classes):
            raise ValueError(f"model.class_weights needs {len(self.classes)} values ({', '.join(self.classes)})")
        weights = torch.tensor(class_weights if class_weights is not None else [1.0] * len(self.classes))
        self.register_buffer("class_weights", weights.float(), persistent=False)
        self.setup_metrics()

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(output, known_labels(batch).long(), weight=self.class_weights)

    def make_metrics(self, **options: Any) -> MetricSet:
        return MetricSet({"intention": ClassificationMetrics(len(self.classes), **options)})

    def update_metrics(self, metrics: MetricSet, output: torch.Tensor, batch: Batch) -> None:
        metrics["intention"].update(output.argmax(dim=-1), known_labels(batch))


class MajorityClass(IntentionModel):
    """Always predicts the most frequent class of the training split (counted once, before testing)."""

    def __init__(self, shapes: Dict[str, Any], **kwargs: Any) -> None:
        super().__init__(shapes, **kwargs)
        self.register_buffer("class_counts", torch.zeros(len(self.classes)))

    def count_classes(self, labels: torch.Tensor) -> None:
        self.class_counts += torch.bincount(labels.long(), minlength=len(self.classes)).to(self.class_counts)

    def setup(self, stage: str) -> None:
        """Lightning calls this before fit/test: count the training labels through the trainer's data module."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.class_counts.sum() > 0 or datamodule is None:
            return
        datamodule.setup("fit")
        for batch in datamodule.train_dataloader():
            self.count_classes(known_labels(batch))

    def forward(self, batch: Batch) -> torch.Tensor:
        if self.class_counts.sum() == 0:
            raise RuntimeError("MajorityClass has not counted the training labels; run it through a Trainer")
        prior = torch.log(self.class_counts.clamp(min=0.5) / self.class_counts.sum())
        return prior[None].expand(len(batch["intention"]), -1)


class IntentionGRU(IntentionModel):
    """A recurrent encoder of the target's and neighbours' histories (neighbours max-pooled), then an MLP."""

    def __init__(self, shapes: Dict[str, Any], hidden_size: int = 64, num_layers: int = 1, use_neighbours: bool = True,
                 cell: str = "gru", use_lanes: bool = True, class_weights: Optional[List[float]] = (1.0, 5.0, 5.0),
                 **kwargs: Any) -> None:
        # Lane changes are rare: by default they weigh five times as much as keeping the lane.
        super().__init__(shapes, class_weights=list(class_weights) if class_weights is not None else None, **kwargs)
        self.use_neighbours, self.use_lanes = use_neighbours, use_lanes
        self.scaler = InputScaler(shapes["normalisation"])
        self.encoder = CELLS[cell](len(shapes["features"]) + 1, hidden_size, num_layers=num_layers, batch_first=True)
        context = hidden_size * (2 if use_neighbours else 1) + (lane_context_size(shapes) if use_lanes else 0)
        self.classify = nn.Sequential(nn.Linear(context, hidden_size), nn.GELU(), nn.Linear(hidden_size, len(self.classes)))

    def forward(self, batch: Batch) -> torch.Tensor:
        agents = self.scaler.agent_histories(batch)
        context = last_hidden(self.encoder, agents[:, 0])
        if self.use_neighbours:
            present = present_neighbours(batch)
            encoded = encode_present(lambda rows: last_hidden(self.encoder, rows), agents[:, 1:], present)
            context = torch.cat([context, max_pool_present(encoded, present)], dim=-1)
        if self.use_lanes:
            context = torch.cat([context, lane_context(batch)], dim=-1)
        return self.classify(context)
