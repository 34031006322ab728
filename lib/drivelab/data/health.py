"""Data health of one data version (a windows folder): counts, per-feature distributions, missing values and the
pipeline's own flow figures (rows in and out of each stage, quarantined rows per reason, stage durations).

Features are read from the windows themselves, shard by shard, so any data version can be described (and two
compared, `drivelab.data.drift`) without its tracks. A data set larger than `max_windows` is sampled evenly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from drivelab.data import store
from drivelab.data.windows import FEATURES, INTENTIONS

X, Y, VX, VY = (FEATURES.index(name) for name in ("x_m", "y_m", "vx_mps", "vy_mps"))

# Per-window features at the present time; discrete ones are compared as categories.
FEATURE_UNITS = {
    "speed_mps": "m/s",
    "acceleration_mps2": "m/s^2",  # longitudinal, from the last two history speeds
    "lateral_speed_mps": "m/s",
    "headway_m": "m",  # centre to centre to the nearest neighbour ahead in the target's lane; missing when none
    "neighbour_count": "vehicles",  # neighbours present now, within the radius and the slot limit
    "lane_change": "0/1",  # the target changes lane within the future
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
    return {
        "speed_mps": np.hypot(present[:, VX], present[:, VY]),
        "acceleration_mps2": (history[:, -1, VX] - history[:, -2, VX]) * sample_hz,
        "lateral_speed_mps": present[:, VY],
        "headway_m": headway,
        "neighbour_count": present_mask.sum(axis=1).astype(np.float64),
        "lane_change": np.asarray(arrays["lane_change"], dtype=np.float64),
    }


@dataclass
class FeatureSample:
    """Feature values of (an even sample of) every split of one data version, plus what sampling saw."""

    features: Dict[str, Dict[str, np.ndarray]]  # split -> feature -> values
    intention: Dict[str, np.ndarray]  # split -> count per intention class
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
            arrays = {key: shard[key][local] for key in ("history", "future", "neighbours", "neighbour_mask", "lane_change")}
            parts.append(window_features(arrays, sample_hz, lane_half_width_m))
            if "intention" in shard:
                intention += np.bincount(shard["intention"][local].astype(np.int64), minlength=len(INTENTIONS))
            for key in ("history", "future", "neighbours"):
                sample.values += arrays[key].size
                sample.non_finite += int(np.count_nonzero(~np.isfinite(arrays[key])))
            sample.neighbour_slots += arrays["neighbour_mask"][:, :, -1].size
            sample.empty_slots += int(np.count_nonzero(~arrays["neighbour_mask"][:, :, -1]))
        sample.features[name] = {key: np.concatenate([part[key] for part in parts]) if parts else np.zeros(0)
                                 for key in FEATURE_UNITS}
        sample.intention[name] = intention
    return sample


def describe(values: np.ndarray) -> Dict[str, Optional[float]]:
    """Mean, spread and quantiles of the present values, and the share missing."""
    values = np.asarray(values, dtype=np.float64)
    present = values[np.isfinite(values)]
    missing = round(1.0 - len(present) / len(values), 6) if len(values) else None
    if not len(present):
        return {"mean": None, "std": None, "min": None, "p5": None, "p50": None, "p95": None, "max": None,
                "missing_rate": missing}
    p5, p50, p95 = np.quantile(present, [0.05, 0.5, 0.95])
    stats = {"mean": present.mean(), "std": present.std(), "min": present.min(), "p5": p5, "p50": p50, "p95": p95,
             "max": present.max()}
    return {**{key: round(float(value), 4) for key, value in stats.items()}, "missing_rate": missing}


def flow(data_dir: Optional[Path], info: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Rows in and out of each pipeline stage, quarantined rows per reason and stage durations, from the records
    the stages leave: tracks_raw/ingest.json, clean_report.json, windows.json and flow/<stage>.json."""
    stages: Dict[str, Dict[str, Any]] = {}
    data_dir = Path(data_dir) if data_dir else None
    ingest = _read_json(data_dir / "tracks_raw" / "ingest.json") if data_dir else None
    if ingest:
        stages["ingest"] = {"rows_in": ingest.get("data_lines"), "rows_out": ingest.get("rows"),
                            "rejected_rows": ingest.get("rejected"), "recordings": ingest.get("recordings"),
                            "duration_s": ingest.get("seconds")}
    clean = _read_json(data_dir / "clean_report.json") if data_dir else None
    if clean and isinstance(clean.get("rows"), dict):
        rows = clean["rows"]
        stages["clean"] = {"rows_in": rows.get("in"), "rows_out": rows.get("kept"), "repaired_rows": rows.get("repaired"),
                           "quarantined_rows": rows.get("quarantined"),
                           "quarantined": {reason: count for reason, count in (clean.get("quarantined_rows") or {}).items()
                                           if count},
                           "tracks_in": (clean.get("tracks") or {}).get("in"),
                           "tracks_out": (clean.get("tracks") or {}).get("kept")}
    windows = dict(info.get("flow") or {})
    if windows:
        stages["windows"] = {"rows_in": windows.get("track_rows"), "rows_out": windows.get("windows"),
                             "resampled_rows": windows.get("resampled_rows"), "tracks_in": windows.get("tracks"),
                             "tracks_without_windows": windows.get("tracks", 0) - windows.get("tracks_with_windows", 0)}
    if data_dir and (data_dir / store.FLOW_DIR).is_dir():
        for path in sorted((data_dir / store.FLOW_DIR).glob("*.json")):
            record = _read_json(path) or {}
            if "duration_s" in record:
                stages.setdefault(path.stem, {})["duration_s"] = record["duration_s"]
    return {name: {key: value for key, value in stage.items() if value is not None} for name, stage in stages.items()}


def _read_json(path: Path) -> Optional[dict]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def tracks_missing(tracks_dir: Path) -> Dict[str, Any]:
    """Rows and null share per column of the canonical track files, from the Parquet footers (no data is read)."""
    import pyarrow.parquet as pq

    files = sorted(Path(tracks_dir).glob("*.parquet")) if tracks_dir and Path(tracks_dir).is_dir() else []
    rows, nulls = 0, {}
    for path in files:
        metadata = pq.ParquetFile(path).metadata
        rows += metadata.num_rows
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for column in range(row_group.num_columns):
                chunk = row_group.column(column)
                stats = chunk.statistics
                count = stats.null_count if stats is not None and stats.has_null_count else 0
                nulls[chunk.path_in_schema] = nulls.get(chunk.path_in_schema, 0) + int(count)
    return {"files": len(files), "rows": rows,
            "null_rate": {name: round(count / rows, 6) if rows else 0.0 for name, count in nulls.items()}}


def report(windows_dir: Path, data_dir: Optional[Path] = None, max_windows: int = 1_000_000,
           lane_half_width_m: float = 1.75, data_version: Optional[str] = None, sample: Optional[FeatureSample] = None) -> Dict[str, Any]:
    """The health report of the windows in `windows_dir` (a JSON-ready dict; numbers only where DVC shows metrics)."""
    from drivelab.data import drift

    info = store.read_info(windows_dir)
    sample = sample or sample_features(windows_dir, max_windows, lane_half_width_m)
    counts: Dict[str, Any] = {"windows": sum(sample.splits.values()), "recordings": len(info.get("recordings", []))}
    for split in store.SPLITS:
        counts[split] = {"windows": sample.splits[split], "recordings": len(info["splits"][split]["recordings"])}
    lane_change_rate = {split: _rate(sample.features[split]["lane_change"]) for split in store.SPLITS}
    lane_change_rate["all"] = _rate(sample.pooled("lane_change"))
    intention_total = sum(sample.intention.values())
    result: Dict[str, Any] = {
        "data_version": data_version,
        "counts": counts,
        "features": {name: describe(sample.pooled(name)) for name in FEATURE_UNITS},
        "lane_change_rate": lane_change_rate,
        "intention_share": {name: round(float(count) / max(1, intention_total.sum()), 6)
                            for name, count in zip(INTENTIONS, intention_total)},
        "missing": {
            "headway_no_leader_rate": describe(sample.pooled("headway_m"))["missing_rate"],
            "empty_neighbour_slot_rate": round(sample.empty_slots / max(1, sample.neighbour_slots), 6),
            "non_finite_value_rate": round(sample.non_finite / max(1, sample.values), 9),
        },
        "split_shift_psi": {  # is the test split drawn from the same traffic as the training split?
            name: _finite(drift.psi(sample.features["train"][name], sample.features["test"][name], name in DISCRETE))
            for name in FEATURE_UNITS
        },
        "flow": flow(data_dir, info),
        "sampling": {"stride": sample.stride,
                     "windows_read": int(sum(len(values["speed_mps"]) for values in sample.features.values()))},
    }
    if data_dir is not None:
        result["missing"]["tracks"] = tracks_missing(Path(data_dir) / "tracks")
    return result


def _finite(value: float, digits: int = 4) -> Optional[float]:
    """JSON has no NaN: a statistic that cannot be computed (an empty split) is null."""
    return round(float(value), digits) if np.isfinite(value) else None


def _rate(values: np.ndarray) -> Optional[float]:
    return round(float(np.mean(values)), 6) if len(values) else None
