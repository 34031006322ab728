"""The replay loop: every window of the input through the served model (and the shadow), predictions streamed into
a Parquet file that replaces the output only when the whole input has been replayed and the drift check allows it."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from drivelab.errors import DrivelabError
from drivelab.predict.compare import Disagreement, InputFeatures, Score
from drivelab.predict.inputs import Input
from drivelab.predict.runtime import OnnxModel


@dataclass
class Replay:
    windows: int = 0
    rows: int = 0
    seconds: float = 0.0
    scores: Dict[str, Optional[Dict[str, float]]] = field(default_factory=dict)
    disagreement: Optional[Disagreement] = None
    features: Optional[InputFeatures] = None


def prediction_table(batch: Dict[str, Any], outputs: Dict[str, np.ndarray], sample_hz: int):
    """One row per window and future step: recording, vehicle id, frame, horizon, position (target-centric metres),
    mode probabilities of a multimodal model, and the recorded position and error where the future is known."""
    import pyarrow as pa

    positions = outputs["positions"]
    count, steps = positions.shape[:2]
    repeat = lambda values: np.repeat(np.asarray(values), steps)  # noqa: E731
    columns = {
        "recording": pa.array(repeat(batch["recording_name"]).astype(str)),
        "vehicle_id": repeat(batch["track_id"]).astype(np.int64),
        "frame": repeat(batch["frame"]).astype(np.int64),
        "horizon_s": np.tile((np.arange(steps, dtype=np.float32) + 1) / sample_hz, count),
        "x_m": positions[..., 0].reshape(-1),
        "y_m": positions[..., 1].reshape(-1),
    }
    if "mode_probabilities" in outputs:
        for mode in range(outputs["mode_probabilities"].shape[1]):
            columns[f"mode_{mode}_probability"] = repeat(outputs["mode_probabilities"][:, mode]).astype(np.float32)
    future = batch.get("future")
    if future is not None and len(future) == count and future.shape[1] == steps:
        columns["true_x_m"] = np.asarray(future[..., 0], np.float32).reshape(-1)
        columns["true_y_m"] = np.asarray(future[..., 1], np.float32).reshape(-1)
        columns["error_m"] = np.linalg.norm(positions - future, axis=-1).astype(np.float32).reshape(-1)
    return pa.table(columns)


def replay(source: Input, model: OnnxModel, output: Path, batch_size: int, shadow: Optional[OnnxModel] = None,
           top_scenes: int = 10) -> tuple[Replay, Path]:
    """Replay `source` through `model`; predictions go to a temporary file beside `output` (returned), which the
    caller renames over `output` or removes."""
    import pyarrow.parquet as pq
    from tqdm import tqdm

    window, hz = model.window, int(model.window["sample_hz"])
    model.check_windows(source.spec, f"the input {source.ref}")
    if shadow is not None:
        shadow.check_windows(source.spec, f"the input {source.ref}")
    result = Replay(features=InputFeatures(hz))
    scores = {"model": Score(int(window["future_steps"]), hz)}
    if shadow is not None:
        scores["shadow"] = Score(int(window["future_steps"]), hz)
        result.disagreement = Disagreement(int(window["future_steps"]), hz, top_scenes)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(handle)
    writer = None
    started = time.perf_counter()
    progress = tqdm(total=source.total, desc="predict", unit="window", mininterval=1.0)
    try:
        for batch in source.batches(batch_size):
            if not len(batch["frame"]):
                continue
            outputs = model(batch)
            table = prediction_table(batch, outputs, hz)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table)
            has_future = "true_x_m" in table.column_names
            if has_future:
                scores["model"].update(outputs["positions"], batch["future"])
            if shadow is not None:
                shadow_outputs = shadow(batch)
                result.disagreement.update(outputs["positions"], shadow_outputs["positions"], batch)
                if has_future:
                    scores["shadow"].update(shadow_outputs["positions"], batch["future"])
            result.features.update(batch)
            result.windows += len(batch["frame"])
            result.rows += table.num_rows
            progress.update(len(batch["frame"]))
        if writer is None:
            raise DrivelabError(f"the input {source.ref} holds no window to predict (recordings shorter than the "
                                f"model's history + future, {window['history_steps']} + {window['future_steps']} "
                                "steps?)")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        progress.close()
        if writer is not None:
            writer.close()
    result.seconds = time.perf_counter() - started
    result.scores = {name: score.result() for name, score in scores.items()}
    return result, Path(temporary)
