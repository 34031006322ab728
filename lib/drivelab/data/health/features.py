"""What a window says about the traffic around its target, one value per feature (speed, acceleration, lateral
speed, headway, neighbour count, lane change), and an even sample of those features over every split of a data
version. The health report (`report`), drift between versions (`drift`) and their plots all read them from here.

Features are read from the windows themselves, shard by shard, so any data version can be described without its
tracks. A data set larger than `max_windows` is sampled evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping

import numpy as np

from drivelab.data.windows import store
from drivelab.data.windows.extract import FEATURES, INTENTIONS, lanes_known

X, Y, VX, VY = (FEATURES.index(name) for name in ("x_m", "y_m", "vx_mps", "vy_mps"))

# Per-window features at the present time; discrete ones are compared as categories.
FEATURE_UNITS = {
    "speed_mps": "m/s",
    "acceleration_mps2": "m/s^2",  # longitudinal, from the last two history speeds
    "lateral_speed_mps": "m/s",
    "headway_m": "m",  # centre to centre to the nearest neighbour ahead in the target's lane; missing when none
    "neighbour_count": "vehicles",  # neighbours present now, within the radius and the slot limit
    "lane_change": "0/1",  # the target changes lane within the future; missing where its lanes are unknown
}
DISCRETE = ("neighbour_count", "lane_change")


def window_features(arrays: Mapping[str, np.ndarray], sample_hz: int,
                    lane_half_width_m: float = 1.75) -> Dict[str, np.ndarray]:
    """The features of a batch of windows (numpy arrays as stored), one value per window."""
    history = np.asarray(arrays["history"], dtype=np.float64)
    present = history[:, -1]
    neighbours_now = np.asarray(arrays["neighbours"][:, :, -1], dtype=np.float64)
    present_mask = np.asarray(arrays["neighbour_mask"][:, :, -1])
    ahead = present_mask & (neighbours_now[..., X] > 0) & (np.abs(neighbours_now[..., Y]) < lane_half_width_m)
    headway = np.where(ahead, neighbours_now[..., X], np.inf).min(axis=1, initial=np.inf)
    headway[~np.isfinite(headway)] = np.nan
    lane_change = np.asarray(arrays["lane_change"], dtype=np.float64)
    if "lane" in arrays:
        lane_change[~lanes_known(np.asarray(arrays["lane"]))] = np.nan
    return {
        "speed_mps": np.hypot(present[:, VX], present[:, VY]),
        "acceleration_mps2": (history[:, -1, VX] - history[:, -2, VX]) * sample_hz,
        "lateral_speed_mps": present[:, VY],
        "headway_m": headway,
        "neighbour_count": present_mask.sum(axis=1).astype(np.float64),
        "lane_change": lane_change,
    }


@dataclass
class FeatureSample:
    """Feature values of (an even sample of) every split of one data version, plus what sampling saw."""

    features: Dict[str, Dict[str, np.ndarray]]  # split -> feature -> values
    intention: Dict[str, np.ndarray]  # split -> count per intention class (windows with unknown lanes have none)
    stride: int  # every stride-th window was read
    values: int = 0  # array values read (history, future, neighbours)
    non_finite: int = 0
    neighbour_slots: int = 0
    empty_slots: int = 0
    splits: Dict[str, int] = field(default_factory=dict)  # windows per split (all, not only the sampled)

    def pooled(self, name: str) -> np.ndarray:
        return np.concatenate([values[name] for values in self.features.values()])


def sample_features(windows_dir: Path, max_windows: int = 1_000_000, lane_half_width_m: float = 1.75) -> FeatureSample:
    """Features of every `stride`-th window of each split (stride chosen so at most `max_windows` are read)."""
    info = store.read_info(windows_dir)
    sample_hz = int(info["spec"]["sample_hz"])
    splits = {split: store.open_split(windows_dir, split) for split in store.SPLITS}
    total = sum(len(split) for split in splits.values())
    stride = max(1, -(-total // max(1, int(max_windows))))
    sample = FeatureSample({}, {}, stride, splits={name: len(split) for name, split in splits.items()})
    for name, split in splits.items():
        parts = []
        intention = np.zeros(len(INTENTIONS), np.int64)
        for shard, start in zip(split.iter_shards(), split.starts[:-1]):
            length = len(shard["history"])
            local = np.arange((-int(start)) % stride, length, stride)  # global indices divisible by stride
            if local.size == 0:
                continue
            keys = ("history", "future", "neighbours", "neighbour_mask", "lane_change", "lane")
            arrays = {key: shard[key][local] for key in keys if key in shard}
            parts.append(window_features(arrays, sample_hz, lane_half_width_m))
            if "intention" in shard:
                labels = shard["intention"][local].astype(np.int64)
                intention += np.bincount(labels[labels >= 0], minlength=len(INTENTIONS))
            for key in ("history", "future", "neighbours"):
                sample.values += arrays[key].size
                sample.non_finite += int(np.count_nonzero(~np.isfinite(arrays[key])))
            sample.neighbour_slots += arrays["neighbour_mask"][:, :, -1].size
            sample.empty_slots += int(np.count_nonzero(~arrays["neighbour_mask"][:, :, -1]))
        sample.features[name] = {key: np.concatenate([part[key] for part in parts]) if parts else np.zeros(0)
                                 for key in FEATURE_UNITS}
        sample.intention[name] = intention
    return sample
