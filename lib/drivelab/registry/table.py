"""The registry as one table: every version of every model, its stages and its lineage."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from drivelab.registry.state import model_names, read_state

COLUMNS = ("model", "version", "stages", "registered", "by", "run", "data version", "git commit", "gate")


def rows(repo: Path, name: Optional[str] = None) -> List[tuple]:
    table = []
    for model in [name] if name else model_names(repo):
        for version in reversed(list(read_state(repo, model).versions.values())):  # newest first
            lineage = version.lineage
            run, gate = lineage.get("run", {}), lineage.get("gate")
            gate_cell = "-" if not gate else (
                f"{'pass' if gate['passed'] else 'FAIL'} {gate['checks'] - len(gate['failed'])}/{gate['checks']}, "
                f"RMSE@5s {gate['rmse_5s']:.3f} m")
            table.append((model, version.version, ",".join(version.stages) or "-", version.registered_at[:19],
                          version.registered_by.split(" <")[0], run.get("name", "-"),
                          str(run.get("data_version") or "-")[:12], str(run.get("git_commit") or "-")[:10],
                          gate_cell))
    return table


def format_table(table: List[tuple]) -> str:
    if not table:
        return "no model is registered yet (drivelab promote run_dir=DIR stage=STAGE reason=...)"
    lines = [COLUMNS, *table]
    widths = [max(len(str(row[column])) for row in lines) for column in range(len(COLUMNS))]
    text = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)
