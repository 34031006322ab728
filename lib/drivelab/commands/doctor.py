"""`drivelab doctor [run_dir=DIR] [checks=a,b] [--json]`: is this machine and project ready to work, and why did a run
end as it did. Exit 0 when healthy, 1 when not. Not a Hydra app: it makes no run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

from drivelab.doctor.checks import CHECK_NAMES, FAIL, Row, environment, project_root
from drivelab.doctor.run_report import explain, latest_unfinished
from drivelab.runs.listing import PIPELINE_RUN
from drivelab.runs.opened import Run

USAGE = f"""usage: drivelab doctor [run_dir=DIR] [checks=NAME,...] [data_dir=DIR] [runs_dir=DIR] [--json]

Without run_dir: one table of checks, each with a fix ({', '.join(CHECK_NAMES)}), then the latest run that did not
complete explained. With run_dir=DIR: that run explained (exception, NaN location, killed, data-bound, last health
figures, code and data version against the workspace). Paths default to the project root ($DRIVELAB_ROOT or the
current folder): data/, runs/. Exit status: 0 healthy, 1 not, 2 a usage error."""

SETTINGS = ("run_dir", "checks", "data_dir", "runs_dir")


def main(argv: List[str]) -> None:
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return
    settings: Dict[str, str] = {}
    as_json = "--json" in argv
    for arg in argv:
        key, sep, value = arg.partition("=")
        if arg == "--json":
            continue
        if not sep or key not in SETTINGS:
            _fail(f"unknown argument {arg!r}; use {', '.join(k + '=' for k in SETTINGS)} or --json")
        settings[key] = value
    root = project_root()
    data_dir = Path(settings.get("data_dir") or root / "data")
    runs_dir = Path(settings.get("runs_dir") or root / "runs")
    only = [name.strip() for name in settings["checks"].split(",")] if settings.get("checks") else None
    unknown = [name for name in only or [] if name not in CHECK_NAMES]
    if unknown:
        _fail(f"checks={unknown[0]}: choose from {', '.join(CHECK_NAMES)}")
    sections: Dict[str, List[Row]] = {}
    if "run_dir" in settings:
        run_dir = Path(settings["run_dir"])
        if not (run_dir / "manifest.json").is_file():
            _fail(f"run_dir={run_dir}: not a run directory (no manifest.json)")
        sections[f"run {run_dir}"] = explain(Run(run_dir), root)
    else:
        sections["environment"] = environment(root, data_dir, runs_dir, only)
        if only is None:
            run = latest_unfinished([runs_dir, root / PIPELINE_RUN])
            if run is not None:
                sections[f"latest run that did not complete: {run.path}"] = explain(run, root)
    healthy = not any(row.status == FAIL for rows in sections.values() for row in rows)
    if as_json:
        print(json.dumps({"healthy": healthy, **{name: [row.as_dict() for row in rows]
                                                 for name, rows in sections.items()}}, indent=2))
    else:
        for name, rows in sections.items():
            print(f"{name}\n{format_rows(rows)}\n")
        print("healthy" if healthy else "not healthy: see the rows marked fail")
    raise SystemExit(0 if healthy else 1)


def format_rows(rows: List[Row]) -> str:
    width = max(len(row.check) for row in rows) if rows else 5
    lines = []
    for row in rows:
        lines.append(f"  {row.status.upper():<4}  {row.check:<{width}}  {row.found}")
        if row.fix and row.status != "ok":
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {row.fix}")
    return "\n".join(lines) or "  (nothing to check)"


def _fail(message: str) -> None:
    print(f"drivelab doctor: error: {message}", file=sys.stderr)
    raise SystemExit(2)
