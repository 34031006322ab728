"""`drivelab runs [FOLDER ...] [status=S] [model=M] [since=2d] [kind=K] [limit=N] [--json]`: every run at a glance,
newest first (`drivelab.runs.listing`). Not a Hydra app: it reads run directories and makes none."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

from drivelab.runs.listing import PIPELINE_RUN, format_runs, list_runs, parse_age

USAGE = """usage: drivelab runs [FOLDER ...] [status=S] [model=M] [since=AGE] [kind=K] [limit=N] [--json]

Every run directory under the folders (default: runs/ and the pipeline's models/train under the project root,
$DRIVELAB_ROOT or the current folder), newest first: status (running, completed, failed, killed, ...), age, model
and experiment, data version, headline test metrics and the health verdict.
  status=failed   only runs in this state (running completed failed killed interrupted pruned)
  model=gru       model or experiment name contains this
  since=2d        started within this age (30m, 2h, 3d, 1w)
  kind=ad-hoc     ad-hoc | pipeline | multirun job | sweep trial
  limit=20        at most this many rows
  --json          one JSON list of runs, for scripts"""


def main(argv: List[str]) -> None:
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return
    folders, filters, as_json = [], {}, False
    for arg in argv:
        key, sep, value = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif not sep:
            folders.append(Path(arg))
        elif key in ("status", "model", "since", "kind", "limit"):
            filters[key] = value
        else:
            _fail(f"unknown filter {key!r}; choose from: status, model, since, kind, limit")
    for folder in folders:
        if not folder.is_dir():
            _fail(f"{folder}: no such folder")
    if not folders:
        root = Path(os.environ.get("DRIVELAB_ROOT") or ".")
        folders = [root / "runs", root / PIPELINE_RUN]
    options: Dict[str, Any] = {"status": filters.get("status"), "model": filters.get("model"),
                               "kind": filters.get("kind")}
    try:
        if "since" in filters:
            options["newer_than_s"] = parse_age(filters["since"])
        limit = int(filters["limit"]) if "limit" in filters else None
    except ValueError as exc:
        _fail(str(exc))
    rows = list_runs(folders, **options)[:limit]
    print(json.dumps(rows, indent=2) if as_json else format_runs(rows))


def _fail(message: str) -> None:
    print(f"drivelab runs: error: {message}", file=sys.stderr)
    raise SystemExit(2)
