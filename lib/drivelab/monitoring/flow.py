"""The data stages' run records (`<data_dir>/flow/<stage>.json`: duration, rows in and out, rows/s, windows/s, peak
memory) read back for the training health report and `drivelab doctor`, in pipeline order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from drivelab.data.tracks.canonical import FLOW_DIR

STAGE_ORDER = ("ingest", "clean", "windows", "health")


def read_flow(data_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Each stage's record by stage name, in pipeline order; empty when the data was prepared elsewhere."""
    folder = Path(data_dir) / FLOW_DIR
    found: Dict[str, Dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return dict(sorted(found.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def describe_stage(record: Dict[str, Any]) -> str:
    """'12.3 s, 51234 rows/s, 4100 windows/s, rows 630000 -> 612000, peak 410 MiB (workers 380 MiB)'."""
    parts: List[str] = []
    if record.get("duration_s") is not None:
        parts.append(f"{record['duration_s']:.1f} s")
    if record.get("rows_per_s") is not None:
        parts.append(f"{record['rows_per_s']:.0f} rows/s")
    if record.get("windows_per_s") is not None:
        parts.append(f"{record['windows_per_s']:.0f} windows/s")
    rows_in, rows_out = record.get("rows_in", record.get("track_rows")), record.get("rows_out", record.get("windows"))
    if rows_in is not None and rows_out is not None:
        parts.append(f"rows {rows_in} -> {rows_out}")
    if record.get("peak_rss_mb") is not None:
        workers = record.get("workers_peak_rss_mb")
        parts.append(f"peak {record['peak_rss_mb']:.0f} MiB" + (f" (workers {workers:.0f} MiB)" if workers else ""))
    return ", ".join(parts) or "no figures"
