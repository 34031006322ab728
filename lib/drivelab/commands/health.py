"""`drivelab health`: the data health report of a windows version, as JSON (its summary: DVC metrics) and PNG plots
(DVC plots)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.data.health import report


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    settings = cfg.health
    output_dir = Path(settings.output_dir)
    health, plots = report.write_report(Path(settings.windows_dir), Path(settings.data_dir), output_dir,
                                        settings.max_windows, settings.lane_half_width_m, settings.plot_bins)
    print(report.format_report(health))
    print(f"written: {output_dir / report.REPORT_FILE}, {output_dir / report.SUMMARY_FILE}, " + ", ".join(str(path) for path in plots))
    return health
