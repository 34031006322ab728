"""What the replay measures beside the predictions: errors against the recorded futures (metrics as declared in
`drivelab.metrics`), a shadow model's disagreement with the served model per horizon and by scene, and the drift of
the input's features from the model's training data (the statistics of `drivelab data diff`)."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from drivelab.data.health.drift import feature_shift
from drivelab.data.health.features import FEATURE_UNITS, FeatureSample, sample_features, window_features
from drivelab.data.health.versions import open_cached

QUANTILES = (50, 90, 99)


class Score:
    """Error sums of one model's predictions against the recorded futures, summarised as drivelab's metrics."""

    def __init__(self, future_steps: int, sample_hz: int) -> None:
        import torch  # here, before the replay's clock starts

        from drivelab.metrics import error_sums

        self.future_steps, self.sample_hz = future_steps, sample_hz
        self.sums: Dict[str, Any] = {}
        self._torch, self._error_sums = torch, error_sums

    def update(self, positions: np.ndarray, future: np.ndarray) -> None:
        as_tensor = lambda values: self._torch.from_numpy(np.array(values, np.float32))  # noqa: E731 (a copy)
        sums = self._error_sums(as_tensor(positions), as_tensor(future), self.sample_hz)
        self.sums = {name: self.sums.get(name, 0) + value for name, value in sums.items()}

    def result(self) -> Optional[Dict[str, float]]:
        if not self.sums:
            return None
        from drivelab.metrics import summarize

        return {name: round(float(value), 4) for name, value in
                summarize(self.sums, self.future_steps, self.sample_hz).items()}


class Disagreement:
    """Displacement between the served model's and the shadow's positions: its distribution at each whole second
    of the horizon, and the scenes (recording, vehicle, frame) where it is largest at the final step."""

    def __init__(self, future_steps: int, sample_hz: int, top: int) -> None:
        self.steps = {second: second * sample_hz - 1 for second in range(1, future_steps // sample_hz + 1)}
        self.by_second: Dict[int, List[np.ndarray]] = {second: [] for second in self.steps}
        self.top, self.heap = int(top), []  # (final displacement, counter, scene)
        self.counter = 0

    def update(self, served: np.ndarray, shadow: np.ndarray, batch: Dict[str, Any]) -> None:
        distance = np.linalg.norm(np.asarray(served, np.float64) - np.asarray(shadow, np.float64), axis=-1)
        for second, step in self.steps.items():
            self.by_second[second].append(distance[:, step])
        final = distance[:, -1]
        for index in np.argsort(-final)[: self.top]:
            scene = {"recording": str(batch["recording_name"][index]), "vehicle_id": int(batch["track_id"][index]),
                     "frame": int(batch["frame"][index]), "final_m": round(float(final[index]), 4),
                     "mean_m": round(float(distance[index].mean()), 4)}
            item = (float(final[index]), self.counter, scene)
            self.counter += 1
            if len(self.heap) < self.top:
                heapq.heappush(self.heap, item)
            elif item[0] > self.heap[0][0]:
                heapq.heapreplace(self.heap, item)

    def per_horizon(self) -> Dict[str, Dict[str, float]]:
        result = {}
        for second, parts in self.by_second.items():
            values = np.concatenate(parts) if parts else np.zeros(0)
            if len(values):
                result[f"{second}s"] = {"mean_m": round(float(values.mean()), 4),
                                        **{f"p{q}_m": round(float(np.percentile(values, q)), 4) for q in QUANTILES},
                                        "max_m": round(float(values.max()), 4)}
        return result

    def top_scenes(self) -> List[Dict[str, Any]]:
        return [scene for _, _, scene in sorted(self.heap, key=lambda item: -item[0])]


def disagreement_plot(per_horizon: Dict[str, Dict[str, float]], path: Path, served: str, shadow: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = [int(key.rstrip("s")) for key in per_horizon]
    figure, axis = plt.subplots(figsize=(6, 4))
    for key, style in (("p50_m", "-o"), ("p90_m", "--o"), ("p99_m", ":o"), ("mean_m", "-.")):
        axis.plot(seconds, [row[key] for row in per_horizon.values()], style, label=key[:-2])
    axis.set_xlabel("horizon (s)")
    axis.set_ylabel("displacement between predictions (m)")
    axis.set_title(f"{served} vs shadow {shadow}")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


class InputFeatures:
    """The drift features of every replayed window (`drivelab.data.health.features`), gathered batch by batch."""

    def __init__(self, sample_hz: int) -> None:
        self.sample_hz = sample_hz
        self.parts: List[Dict[str, np.ndarray]] = []

    def update(self, batch: Dict[str, Any]) -> None:
        self.parts.append(window_features(batch, self.sample_hz))

    def sample(self) -> FeatureSample:
        features = {name: np.concatenate([part[name] for part in self.parts]) if self.parts else np.zeros(0)
                    for name in FEATURE_UNITS}
        return FeatureSample({"input": features}, {}, 1, splits={"input": len(features["speed_mps"])})


def input_drift(features: FeatureSample, data_version: Optional[str], repo: Path, statistic: str, threshold: float,
                max_windows: int) -> Dict[str, Any]:
    """Per feature, the shift of the replayed input from the model's training data version (read from the DVC
    cache); `checked` is False, with the reason, when that version is not there."""
    if not data_version:
        return {"checked": False, "reason": "the model card names no training data version"}
    try:
        with open_cached(data_version, repo) as version:
            reference = sample_features(version.windows_dir, max_windows)
    except Exception as error:  # not in this cache: a warning, not a failure (fetch it to check)
        return {"checked": False, "data_version": data_version, "reason": str(error).splitlines()[0]}
    shifts = feature_shift(reference, features, statistic, threshold)
    return {"checked": True, "data_version": data_version, "statistic": statistic, "threshold": threshold,
            "features": shifts, "shifted": sorted(name for name, row in shifts.items() if row["shifted"])}
