"""Seed noise and real differences.

A metric over seeds is reported as mean +- sd of its per-seed values. The difference idea - baseline gets a
bootstrap confidence interval over test windows, paired by window and pooled over seeds: each window's per-window
value is averaged over each model's seeds, the windows are resampled with replacement (the same resample for both
models), and the metric of the resampled windows is computed for each model (`root_mean` metrics as the square root
of the mean). Pairing makes the windows' own difficulty cancel; what remains is whether the models differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

CHUNK = 100  # resamples drawn at once: bounds the memory of the resampling weights to CHUNK x windows


def aggregate(values: np.ndarray, kind: str) -> float:
    mean = float(np.mean(values)) if len(values) else float("nan")
    return mean ** 0.5 if kind == "root_mean" else mean


def over_seeds(per_seed: Sequence[np.ndarray], mask: np.ndarray, kind: str) -> Dict[str, object]:
    """Mean and sample sd over seeds of the metric on the windows in `mask` (sd 0 for one seed)."""
    values = [aggregate(seed_values[mask], kind) for seed_values in per_seed]
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "seeds": values}


@dataclass
class Difference:
    difference: float  # idea - baseline on all windows of the slice, seeds pooled
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0

    def to_json(self) -> Dict[str, object]:
        return {"difference": self.difference, "low": self.low, "high": self.high, "significant": self.significant}


def resample_counts(rng: np.random.Generator, windows: int, resamples: int) -> np.ndarray:
    """How often each window is drawn in each resample, (resamples, windows): resampling with replacement."""
    drawn = rng.integers(0, windows, size=(resamples, windows))
    offsets = (np.arange(resamples) * windows)[:, None]
    return np.bincount((drawn + offsets).ravel(), minlength=resamples * windows).reshape(resamples, windows)


def paired_differences(idea: Dict[str, List[np.ndarray]], baselines: Dict[str, Dict[str, List[np.ndarray]]],
                       kinds: Dict[str, str], mask: np.ndarray, samples: int, confidence: float,
                       seed: int) -> Dict[str, Dict[str, Difference]]:
    """Per baseline and metric, idea - baseline with its `confidence` bootstrap interval over the windows in `mask`.
    `idea[metric]` and `baselines[name][metric]` are per-seed arrays of per-window values; one set of resamples
    serves every baseline and metric, so that the intervals are computed on the same draws."""
    metrics = list(kinds)
    columns = [np.mean([seed_values[mask] for seed_values in idea[metric]], axis=0) for metric in metrics]
    names = list(baselines)
    for name in names:
        columns += [np.mean([seed_values[mask] for seed_values in baselines[name][metric]], axis=0) for metric in metrics]
    table = np.stack(columns, axis=1) if columns else np.zeros((int(mask.sum()), 0))
    windows = len(table)
    if windows == 0:
        return {}

    def metric_values(means: np.ndarray) -> np.ndarray:  # (..., columns) window means -> metric values
        out = means.copy()
        for block in range(len(names) + 1):
            for index, metric in enumerate(metrics):
                column = block * len(metrics) + index
                if kinds[metric] == "root_mean":
                    out[..., column] = np.sqrt(np.maximum(out[..., column], 0.0))
        return out

    point = metric_values(table.mean(axis=0))
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, samples, CHUNK):
        counts = resample_counts(rng, windows, min(CHUNK, samples - start)).astype(np.float64)
        draws.append(metric_values(counts @ table / windows))
    resampled = np.concatenate(draws)
    tail = (1 - confidence) / 2 * 100
    result: Dict[str, Dict[str, Difference]] = {}
    for block, name in enumerate(names, start=1):
        result[name] = {}
        for index, metric in enumerate(metrics):
            idea_column, base_column = index, block * len(metrics) + index
            spread = resampled[:, idea_column] - resampled[:, base_column]
            low, high = np.percentile(spread, [tail, 100 - tail])
            result[name][metric] = Difference(float(point[idea_column] - point[base_column]), float(low), float(high))
    return result
