"""`drivelab clean`: raw canonical tracks -> validated tracks (paths.data_dir/tracks), quarantine.parquet and
clean_report.json beside them."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from drivelab.atomic import write_json
from drivelab.data import clean, store


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    started = time.perf_counter()
    data_dir = Path(cfg.paths.data_dir)
    report = clean.clean(data_dir, cfg.clean.max_jump_m, cfg.clean.workers)
    seconds = time.perf_counter() - started
    print(clean.format_report(report))
    print(f"  cleaned in {seconds:.1f} s ({report['rows']['in'] / max(seconds, 1e-9):,.0f} rows/s) -> "
          f"{data_dir / 'tracks'}; report {data_dir / clean.REPORT_FILE}, quarantine {data_dir / clean.QUARANTINE_FILE}")
    # The stage's run record for the health report, outside the data version (durations differ run to run).
    write_json(data_dir / store.FLOW_DIR / "clean.json",
               {"stage": "clean", "duration_s": round(seconds, 3), "rows_in": report["rows"]["in"],
                "rows_out": report["rows"]["kept"]})
    return report
