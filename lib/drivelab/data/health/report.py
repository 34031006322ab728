"""Data health of one data version (a windows folder): counts, per-feature distributions (`features`), missing
values and the pipeline's own flow figures (rows in and out of each stage, quarantined rows per reason, stage
durations).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from drivelab.console import counted
from drivelab.atomic import write_json
from drivelab.data.health import drift
from drivelab.data.health.features import DISCRETE, FEATURE_UNITS, FeatureSample, sample_features
from drivelab.data.tracks import canonical
from drivelab.data.windows import store
from drivelab.data.windows.extract import INTENTIONS
from drivelab.lineage import dvc_dir_md5

REPORT_FILE = "health.json"  # in the output folder, beside PLOTS_DIR
SUMMARY_FILE = "summary.json"  # the few headline counts: DVC's metrics, one column each in `dvc exp show`
PLOTS_DIR = "plots"


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


# What a stage's own run record (flow/<stage>.json) adds: duration, throughput and peak memory.
FLOW_RECORD_FIGURES = ("duration_s", "rows_per_s", "windows_per_s", "peak_rss_mb", "workers_peak_rss_mb")


def flow(data_dir: Optional[Path], info: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Rows in and out of each pipeline stage, quarantined rows per reason, stage durations, throughput and peak memory, from the records
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
    if data_dir and (data_dir / canonical.FLOW_DIR).is_dir():
        for path in sorted((data_dir / canonical.FLOW_DIR).glob("*.json")):
            record = _read_json(path) or {}
            for key in FLOW_RECORD_FIGURES:
                if key in record:
                    stages.setdefault(path.stem, {})[key] = record[key]
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
        "intention_share": {name: round(float(count) / intention_total.sum(), 6) if intention_total.sum() else None
                            for name, count in zip(INTENTIONS, intention_total)},  # null: no window with known lanes
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
    """The mean of the known values (a window with unknown lanes has no lane-change value); null without any."""
    known = values[np.isfinite(values)]
    return round(float(np.mean(known)), 6) if len(known) else None


def write_report(windows_dir: Path, data_dir: Path, output_dir: Path, max_windows: int = 1_000_000,
                 lane_half_width_m: float = 1.75, plot_bins: int = 40) -> Tuple[Dict[str, Any], List[Path]]:
    """The health report of `windows_dir` as output_dir/health.json (its `data_version` is the folder's DVC hash)
    and PNG plots in output_dir/plots; returns the report and the plot files."""
    from drivelab.data.health.plots import write_plots  # matplotlib: only when plots are written

    started = time.perf_counter()
    sample = sample_features(windows_dir, max_windows, lane_half_width_m)
    result = report(windows_dir, data_dir, data_version=dvc_dir_md5(windows_dir), sample=sample)
    plots = write_plots(sample, result, Path(output_dir) / PLOTS_DIR, plot_bins)
    result["flow"].setdefault("health", {})["duration_s"] = round(time.perf_counter() - started, 3)
    write_json(Path(output_dir) / REPORT_FILE, result)
    write_json(Path(output_dir) / SUMMARY_FILE, summary(result))
    return result, plots


def summary(health: Mapping[str, Any]) -> Dict[str, Optional[int]]:
    """Rows into cleaning, kept and quarantined, and windows per split: flat, so each is one short column."""
    clean = health.get("flow", {}).get("clean", {})
    counts = health["counts"]
    return {"rows_in": clean.get("rows_in"), "rows_kept": clean.get("rows_out"),
            "rows_quarantined": clean.get("quarantined_rows"),
            **{f"windows_{split}": counts[split]["windows"] for split in ("train", "val", "test")}}


def format_report(health: dict) -> str:
    """The report as a few lines for the terminal."""
    counts = health["counts"]
    lines = [f"data version {health['data_version']}: {counted(counts['windows'], 'window')} from {counted(counts['recordings'], 'recording')} "
             f"(" + ", ".join(f"{split} {counts[split]['windows']}" for split in ("train", "val", "test")) + ")"]
    lines.append(f"  {'feature':<20}{'mean':>9}{'p5':>9}{'p50':>9}{'p95':>9}{'missing':>9}{'PSI test/train':>16}")
    for name, stats in health["features"].items():
        cells = "".join(f"{stats[key]:>9.2f}" if stats[key] is not None else f"{'-':>9}"
                        for key in ("mean", "p5", "p50", "p95"))
        missing_pct = 100 * (stats["missing_rate"] or 0)
        psi = health["split_shift_psi"][name]
        lines.append(f"  {name:<20}{cells}{missing_pct:>8.1f}%" + (f"{psi:>16.3f}" if psi is not None else f"{'-':>16}"))
    missing = health["missing"]
    rate = health["lane_change_rate"]["all"]
    lines.append(f"  lane-change rate {'unknown (no lanes)' if rate is None else f'{rate:.3f}'}; empty neighbour slots "
                 f"{100 * missing['empty_neighbour_slot_rate']:.1f}%; "
                 f"non-finite values {missing['non_finite_value_rate']:.2g}")
    for stage, figures in health["flow"].items():
        parts = [f"{key} {value}" for key, value in figures.items() if not isinstance(value, dict)]
        quarantined = figures.get("quarantined")
        if quarantined:
            parts.append("quarantined " + ", ".join(f"{reason} {count}" for reason, count in quarantined.items()))
        lines.append(f"  flow {stage}: " + ", ".join(parts))
    return "\n".join(lines)
