"""Tables that put runs side by side: one row per run (and the baseline), one column per metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

HEADLINE = "test/rmse_5s"  # the metric the ratio line compares
EVAL_FILE = "eval_metrics.json"  # what `drivelab eval run_dir=DIR` writes: the run's metrics beside its baseline's


@dataclass
class Row:
    label: str
    metrics: Dict[str, float]


def runs_table(rows: List[Row], ratio_to: Optional[str] = None) -> str:
    """A markdown table; columns are every metric any row has (a run of another task shows '-'), then one
    `RMSE@5s ratio` line per run against the row labelled `ratio_to`."""
    names: List[str] = []
    for row in rows:
        names += [name for name in row.metrics if name not in names]
    lines = ["| model | " + " | ".join(name.split("/", 1)[-1] for name in names) + " |", "|" + "---|" * (len(names) + 1)]
    for row in rows:
        cells = [f"{row.metrics[name]:.3f}" if name in row.metrics else "-" for name in names]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    reference = next((row for row in rows if row.label == ratio_to), None)
    if reference is not None and reference.metrics.get(HEADLINE):
        for row in rows:
            if row is not reference and HEADLINE in row.metrics:
                ratio = row.metrics[HEADLINE] / reference.metrics[HEADLINE]
                lines.append(f"RMSE@5s ratio {row.label} / {reference.label}: {ratio:.2f}")
    return "\n".join(lines)


def eval_table(results: Dict[str, Any], manifest: Dict[str, Any]) -> str:
    """The table of one `eval_metrics.json` (the run beside its baseline), as `drivelab demo` prints it."""
    rows = [Row(str(manifest.get("model") or "model").rsplit(".", 1)[-1], results["metrics"])]
    if "baseline" in results:
        rows.append(Row(results["baseline"]["model"], results["baseline"]["metrics"]))
    return runs_table(rows, ratio_to=rows[1].label if len(rows) > 1 else None)
