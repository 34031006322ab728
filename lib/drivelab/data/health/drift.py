"""Drift between two data versions: what changed in counts and recordings, and how far each feature's distribution
moved, by the population stability index (PSI) and the two-sample Kolmogorov-Smirnov statistic (KS).

PSI = sum over bins of (b - a) * ln(b / a), with a and b the shares of version A and B in each bin; bins are A's
deciles (a missing value is a bin of its own; a feature with few distinct values is binned by value). Rules of
thumb: below 0.1 no real change, 0.1-0.2 moderate, above 0.2 a shift worth a look. KS is the largest gap between
the two empirical distribution functions (0 identical, 1 disjoint).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

import numpy as np

from drivelab.data.health.features import DISCRETE, FEATURE_UNITS, FeatureSample, sample_features
from drivelab.data.health.versions import WINDOWS_OUT, open_version
from drivelab.data.windows import store
from drivelab.lineage import dvc_dir_md5

STATISTICS = ("psi", "ks")
DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1}
PSI_FLOOR = 1e-4  # share given to an empty bin, so that a bin seen on one side only counts (and stays finite)
MAX_CATEGORIES = 20  # fewer distinct values than this: compared value by value


def psi(reference: np.ndarray, current: np.ndarray, discrete: bool = False) -> float:
    """Population stability index of `current` against `reference` (0 for identical samples)."""
    reference, current = np.asarray(reference, np.float64), np.asarray(current, np.float64)
    if not len(reference) or not len(current):
        return float("nan")
    known = reference[np.isfinite(reference)]
    categories = np.unique(np.concatenate([known, current[np.isfinite(current)]]))
    if discrete or len(np.unique(known)) < MAX_CATEGORIES:
        bins_a, bins_b = _bin_by_value(reference, categories), _bin_by_value(current, categories)
        n_bins = len(categories) + 1
    else:
        edges = np.unique(np.quantile(known, np.linspace(0.1, 0.9, 9)))
        bins_a, bins_b = _bin_by_edges(reference, edges), _bin_by_edges(current, edges)
        n_bins = len(edges) + 2
    share_a = np.maximum(np.bincount(bins_a, minlength=n_bins) / len(reference), PSI_FLOOR)
    share_b = np.maximum(np.bincount(bins_b, minlength=n_bins) / len(current), PSI_FLOOR)
    return float(np.sum((share_b - share_a) * np.log(share_b / share_a)))


def _bin_by_value(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(categories, values)
    bins[~np.isfinite(values)] = len(categories)  # missing: the last bin
    return bins


def _bin_by_edges(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, values, side="right")
    bins[~np.isfinite(values)] = len(edges) + 1
    return bins


def ks(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic over the present (finite) values."""
    a = np.sort(np.asarray(reference, np.float64)[np.isfinite(reference)])
    b = np.sort(np.asarray(current, np.float64)[np.isfinite(current)])
    if not len(a) or not len(b):
        return float("nan")
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def feature_shift(a: FeatureSample, b: FeatureSample, statistic: str = "psi",
                  threshold: float = 0.2) -> Dict[str, Dict[str, Any]]:
    """Per feature: PSI, KS, means and missing shares of A and B, and whether `statistic` exceeds `threshold`."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    shifts = {}
    for name in FEATURE_UNITS:
        values_a, values_b = a.pooled(name), b.pooled(name)
        row = {"psi": psi(values_a, values_b, name in DISCRETE), "ks": ks(values_a, values_b),
               "mean_a": _mean(values_a), "mean_b": _mean(values_b),
               "missing_a": _missing(values_a), "missing_b": _missing(values_b)}
        row = {key: round(value, 6) if value is not None and np.isfinite(value) else None for key, value in row.items()}
        score = row[statistic]
        row["shifted"] = bool(score is not None and score > threshold)
        shifts[name] = row
    return shifts


def _mean(values: np.ndarray) -> float | None:
    present = values[np.isfinite(values)]
    return float(present.mean()) if len(present) else None


def _missing(values: np.ndarray) -> float | None:
    return float(np.mean(~np.isfinite(values))) if len(values) else None


def recording_changes(info_a: Mapping[str, Any], info_b: Mapping[str, Any]) -> Dict[str, List[str]]:
    """Recordings only in B (new), only in A (removed), and in both with different track files (changed)."""
    a, b = set(info_a.get("recordings", [])), set(info_b.get("recordings", []))
    tracks_a, tracks_b = info_a.get("tracks", {}), info_b.get("tracks", {})
    changed = sorted(rid for rid in a & b if tracks_a.get(f"{rid}.parquet") != tracks_b.get(f"{rid}.parquet"))
    return {"new": sorted(b - a), "removed": sorted(a - b), "changed": changed}


def spec_changes(info_a: Mapping[str, Any], info_b: Mapping[str, Any]) -> Dict[str, List[Any]]:
    """Window settings that differ between the versions: name -> [A, B]."""
    spec_a, spec_b = info_a.get("spec", {}), info_b.get("spec", {})
    return {key: [spec_a.get(key), spec_b.get(key)] for key in sorted(set(spec_a) | set(spec_b))
            if spec_a.get(key) != spec_b.get(key)}


def diff(ref_a: str, ref_b: str, statistic: str = "psi", threshold: float | None = None, max_windows: int = 1_000_000,
         out: str = WINDOWS_OUT) -> Dict[str, Any]:
    """The comparison of two data versions (windows folders, data folders or DVC revisions) as a JSON-ready dict:
    counts per split, recordings new/removed/changed, changed window settings and the shift of every feature."""
    threshold = DEFAULT_THRESHOLDS[statistic] if threshold is None else threshold
    with open_version(ref_a, windows_out=out) as version_a, open_version(ref_b, windows_out=out) as version_b:
        info_a, info_b = store.read_info(version_a.windows_dir), store.read_info(version_b.windows_dir)
        md5_a = version_a.md5 or dvc_dir_md5(version_a.windows_dir)
        md5_b = version_b.md5 or dvc_dir_md5(version_b.windows_dir)
        sample_a = sample_features(version_a.windows_dir, max_windows)
        sample_b = sample_features(version_b.windows_dir, max_windows)
    features = feature_shift(sample_a, sample_b, statistic, threshold)
    counts = {split: {"a": sample_a.splits[split], "b": sample_b.splits[split]} for split in store.SPLITS}
    counts["recordings"] = {"a": len(info_a.get("recordings", [])), "b": len(info_b.get("recordings", []))}
    return {
        "a": {"ref": ref_a, "data_version": md5_a},
        "b": {"ref": ref_b, "data_version": md5_b},
        "identical": md5_a == md5_b,
        "statistic": statistic,
        "threshold": threshold,
        "counts": counts,
        "recordings": recording_changes(info_a, info_b),
        "spec_changes": spec_changes(info_a, info_b),
        "features": features,
        "shifted": sorted(name for name, row in features.items() if row["shifted"]),
    }


def format_diff(result: Dict[str, Any]) -> str:
    """`diff`'s result as a table for the terminal."""
    a, b = result["a"], result["b"]
    lines = [f"A: {a['ref']} ({a['data_version']})", f"B: {b['ref']} ({b['data_version']})"
             + ("  identical content" if result["identical"] else "")]
    lines.append(f"{'windows':<12}{'A':>10}{'B':>10}{'change':>10}")
    for name, count in result["counts"].items():
        change = (count["b"] - count["a"]) / count["a"] * 100 if count["a"] else float("nan")
        lines.append(f"  {name:<10}{count['a']:>10}{count['b']:>10}{change:>+9.1f}%")
    recordings = result["recordings"]
    lines.append("recordings: " + "; ".join(
        f"{len(names)} {kind}" + (f" ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else "")
        for kind, names in recordings.items()))
    if result["spec_changes"]:
        lines.append("window settings changed: " + ", ".join(f"{key} {old} -> {new}"
                                                             for key, (old, new) in result["spec_changes"].items()))
    statistic, threshold = result["statistic"], result["threshold"]
    lines.append(f"{'feature':<20}{'PSI':>8}{'KS':>8}{'mean A':>10}{'mean B':>10}  (flag: {statistic} > {threshold})")
    for name, row in result["features"].items():
        cells = [_cell(row["psi"], 8), _cell(row["ks"], 8), _cell(row["mean_a"], 10), _cell(row["mean_b"], 10)]
        lines.append(f"  {name:<18}{''.join(cells)}" + ("  SHIFTED" if row["shifted"] else ""))
    shifted = result["shifted"]
    lines.append(f"shift above {threshold} ({statistic}) in: {', '.join(shifted)}" if shifted
                 else f"no feature shifted above {threshold} ({statistic})")
    return "\n".join(lines)


def _cell(value: Any, width: int) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"
