"""`drivelab health`: the data health report of a windows version, as JSON (DVC metrics) and PNG plots (DVC plots)."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from drivelab.atomic import write_json
from drivelab.data import health
from drivelab.data.health_plots import write_plots
from drivelab.lineage import dvc_dir_md5

REPORT_FILE = "health.json"
PLOTS_DIR = "plots"


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    started = time.perf_counter()
    settings = cfg.health
    windows_dir, output_dir = Path(settings.windows_dir), Path(settings.output_dir)
    sample = health.sample_features(windows_dir, settings.max_windows, settings.lane_half_width_m)
    report = health.report(windows_dir, Path(settings.data_dir), data_version=dvc_dir_md5(windows_dir), sample=sample)
    plots = write_plots(sample, report, output_dir / PLOTS_DIR, settings.plot_bins)
    report["flow"].setdefault("health", {})["duration_s"] = round(time.perf_counter() - started, 3)
    write_json(output_dir / REPORT_FILE, report)
    print(format_report(report))
    print(f"written: {output_dir / REPORT_FILE}, " + ", ".join(str(path) for path in plots))
    return report


def format_report(report: dict) -> str:
    counts = report["counts"]
    lines = [f"data version {report['data_version']}: {counts['windows']} windows from {counts['recordings']} recordings "
             f"(" + ", ".join(f"{split} {counts[split]['windows']}" for split in ("train", "val", "test")) + ")"]
    lines.append(f"  {'feature':<20}{'mean':>9}{'p5':>9}{'p50':>9}{'p95':>9}{'missing':>9}{'PSI test/train':>16}")
    for name, stats in report["features"].items():
        cells = "".join(f"{stats[key]:>9.2f}" if stats[key] is not None else f"{'-':>9}"
                        for key in ("mean", "p5", "p50", "p95"))
        missing_pct = 100 * (stats["missing_rate"] or 0)
        psi = report["split_shift_psi"][name]
        lines.append(f"  {name:<20}{cells}{missing_pct:>8.1f}%" + (f"{psi:>16.3f}" if psi is not None else f"{'-':>16}"))
    missing = report["missing"]
    lines.append(f"  lane-change rate {report['lane_change_rate']['all']:.3f}; empty neighbour slots "
                 f"{100 * missing['empty_neighbour_slot_rate']:.1f}%; "
                 f"non-finite values {missing['non_finite_value_rate']:.2g}")
    for stage, figures in report["flow"].items():
        parts = [f"{key} {value}" for key, value in figures.items() if not isinstance(value, dict)]
        quarantined = figures.get("quarantined")
        if quarantined:
            parts.append("quarantined " + ", ".join(f"{reason} {count}" for reason, count in quarantined.items()))
        lines.append(f"  flow {stage}: " + ", ".join(parts))
    return "\n".join(lines)
