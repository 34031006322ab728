"""A run's model back in memory (weights-only, allowlisted config), its predictions, and its errors per window,
horizon and slice (slices and slice metrics are `drivelab.evaluation`'s, the same as in a run's report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence, Union

import numpy as np
import pandas as pd

from drivelab.data.windows.store import WindowSplit
from drivelab.errors import DrivelabError
from drivelab.runs import Run, open_run

PathLike = Union[str, Path]
Windows = Union[WindowSplit, Dict[str, np.ndarray]]


def load_model(run: Union[Run, PathLike], windows_dir: Optional[PathLike] = None):
    """The run's model with its best checkpoint's weights, in eval mode, built from the run's own config
    (`drivelab.runs.Run.model`: config re-validated, targets through the registry, weights-only)."""
    return open_run(run).model(windows_dir)


def baseline_model(option: str, like: Any):
    """The model of `conf/model/<option>.yaml` (e.g. the physics baseline `cv`), for the windows `like` was built
    for; untrained, in eval mode."""
    from drivelab.notebook.project import compose
    from drivelab.runs.builder import build_model

    return build_model(compose("train", [f"model={option}"]).model, like.shapes).eval()


def batches(windows: Windows, batch_size: int = 2048) -> Iterator[Dict[str, Any]]:
    """Torch batches of a split (`DataVersion.windows`) or of gathered arrays (`DataVersion.sample`), in order."""
    import torch

    count = len(windows) if isinstance(windows, WindowSplit) else len(windows["history"])
    for start in range(0, count, batch_size):
        if isinstance(windows, WindowSplit):
            arrays = windows.gather(np.arange(start, min(start + batch_size, count)))
        else:
            arrays = {name: array[start:start + batch_size] for name, array in windows.items()}
        yield {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in arrays.items()}


def predict(model: Any, windows: Windows, batch_size: int = 2048) -> np.ndarray:
    """The most likely future positions (windows, future_steps, 2) in the target-centric frame."""
    import torch

    if not hasattr(model, "predict_trajectory"):
        raise DrivelabError(f"{type(model).__name__} solves the {getattr(model, 'task', '?')!r} task; "
                            "predicting positions needs a trajectory model")
    with torch.inference_mode():
        parts = [model.predict_trajectory(batch).cpu().numpy() for batch in batches(windows, batch_size)]
    if not parts:
        return np.zeros((0, *windows["future"].shape[1:]), np.float32)
    return np.concatenate(parts)


def evaluate(model: Any, windows: Windows, baseline: Any = None, batch_size: int = 2048):
    """`drivelab.evaluation`'s report of `model` (beside `baseline`) on `windows`: per-slice metrics, RMSE per
    future step, worst windows; what `drivelab train` and `drivelab eval` write as slice_metrics.json."""
    from drivelab.evaluation.results import evaluate as evaluate_batches

    return evaluate_batches(model, batches(windows, batch_size), baseline, sample_hz=int(model.shapes["sample_hz"]))


def slice_table(evaluation: Any) -> pd.DataFrame:
    """An evaluation's per-slice metrics: one row per slice and predictor (its name), with the slice's size."""
    names = {"model": evaluation.model, "baseline": evaluation.baseline}
    rows = [
        {"slice": slice_name, "model": names[who], "windows": count, **evaluation.metrics[slice_name].get(who, {})}
        for slice_name, count in evaluation.counts.items()
        for who in ("model", "baseline") if names[who] is not None
    ]
    return pd.DataFrame(rows)


def displacement(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean error (metres) at every future point, shape (windows, future_steps)."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(true, np.float64), axis=-1)


def window_errors(pred: np.ndarray, true: np.ndarray, sample_hz: int) -> pd.DataFrame:
    """Per-window errors, one column per declared trajectory metric (`drivelab.metrics`): the displacement at each
    whole-second horizon (`error_1s_m`, ...), `ade_m`, `fde_m` and whether the window is a `miss`."""
    import torch

    from drivelab.metrics import trajectory_metrics

    distance = torch.from_numpy(displacement(pred, true))
    columns = {spec.window_column: spec.window_values(distance).numpy()
               for spec in trajectory_metrics(true.shape[1], sample_hz)}
    columns["miss"] = columns["miss"].astype(bool)
    return pd.DataFrame(columns)


def horizon_errors(predictions: Dict[str, np.ndarray], true: np.ndarray, sample_hz: int) -> pd.DataFrame:
    """RMSE, mean and 90th-percentile displacement at every future step, for each named prediction."""
    frames = []
    for name, pred in predictions.items():
        errors = displacement(pred, true)
        frames.append(pd.DataFrame({
            "model": name,
            "horizon_s": np.arange(1, true.shape[1] + 1) / sample_hz,
            "rmse_m": np.sqrt((errors ** 2).mean(axis=0)),
            "mean_m": errors.mean(axis=0),
            "p90_m": np.percentile(errors, 90, axis=0) if len(errors) else np.nan,
        }))
    return pd.concat(frames, ignore_index=True)


def worst_windows(errors: pd.DataFrame, count: int = 6, by: str = "fde_m") -> Sequence[int]:
    """Positions of the `count` windows with the largest `by` error, worst first."""
    return [int(i) for i in errors[by].to_numpy().argsort(kind="stable")[::-1][:count]]
