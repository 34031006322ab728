"""Every run at a glance: one row per run directory (ad-hoc, the pipeline's, multirun jobs, sweep trials) with its
observed status (a run whose process died is `killed`, not `running`), age, model, experiment, data version,
headline test metrics and health verdict. `drivelab runs` prints these rows; the notebook's `runs_table` is built
on them. Reads files only: no torch.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from drivelab.errors import DrivelabError
from drivelab.monitoring.records import read_health, read_non_finite
from drivelab.runs.opened import Run, find_runs

PathLike = Union[str, Path]
HEADLINE_METRICS = ("test/rmse_5s", "test/ade", "test/fde", "test/miss_rate", "test/accuracy")
PIPELINE_RUN = Path("models") / "train"  # the pipeline's fixed run directory, under the project root
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def sweep_of(run_dir: Path, runs_dir: Path) -> str:
    """The sweep a run is a job of, as a folder relative to `runs_dir` ("." for runs_dir itself), or "" for a single
    run: a Hydra multirun folder (it holds multirun.yaml) or a `drivelab sweep` folder (its runs are in trials/)."""
    for folder in run_dir.parents:
        if folder.name == "trials":
            folder = folder.parent
        elif not (folder / "multirun.yaml").is_file():
            if folder == runs_dir or runs_dir not in folder.parents:
                break
            continue
        return str(folder.relative_to(runs_dir)) if folder != runs_dir else "."
    return ""


def run_kind(run_dir: Path, runs_dir: Path) -> str:
    """pipeline (models/train), sweep trial, multirun job or ad-hoc."""
    if run_dir.parts[-2:] == PIPELINE_RUN.parts:
        return "pipeline"
    sweep = sweep_of(run_dir, runs_dir)
    if not sweep:
        return "ad-hoc"
    return "sweep trial" if "trials" in run_dir.relative_to(runs_dir).parts else "multirun job"


def parse_age(text: str) -> float:
    """'90s', '30m', '2h', '3d', '1w' -> seconds."""
    match = DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an age like 30m, 2h, 3d or 1w")
    return float(match.group(1)) * SECONDS[match.group(2)]


def format_age(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _started(manifest: Dict[str, Any]) -> Optional[float]:
    try:
        return datetime.fromisoformat(str(manifest.get("started_at"))).timestamp()
    except (TypeError, ValueError):
        return None


def describe_run(run: Run, runs_dir: Path, now: Optional[float] = None) -> Dict[str, Any]:
    """One run's row: where it is, its observed status, age, model, experiment, data version, headline test
    metrics, health verdict (and, for a run the NaN guard stopped, where)."""
    manifest = run.manifest
    started = _started(manifest)
    now = time.time() if now is None else now
    experiment = next((o.split("=", 1)[1] for o in run.overrides if o.startswith(("experiment=", "+experiment="))),
                      None)
    health = read_health(run.path) or {}
    non_finite = read_non_finite(run.path)
    runs_dir = Path(runs_dir)
    return {
        "run": str(run.path.relative_to(runs_dir)) if runs_dir in run.path.parents else str(run.path),
        "path": str(run.path),
        "kind": run_kind(run.path, runs_dir),
        "sweep": sweep_of(run.path, runs_dir),
        "status": run.status,
        "started_at": manifest.get("started_at"),
        "age_s": round(now - started, 1) if started is not None else None,
        "model": run.label,
        "experiment": experiment,
        "data_version": run.data_version,
        "metrics": {key: value for key, value in run.metrics.items() if key in HEADLINE_METRICS},
        "verdict": health.get("verdict"),
        "non_finite": non_finite.get("message") if non_finite else None,
        "error": manifest.get("error"),
        "host": manifest.get("host"),
    }


def list_runs(folders: Iterable[PathLike], status: Optional[str] = None, model: Optional[str] = None,
              newer_than_s: Optional[float] = None, kind: Optional[str] = None,
              now: Optional[float] = None) -> List[Dict[str, Any]]:
    """Rows of every run under each folder (a folder that is itself a run counts), newest first, filtered: `status`
    exactly, `model` a case-insensitive part of the model or experiment name, `newer_than_s` by age, `kind`."""
    rows, seen = [], set()
    for folder in folders:
        folder = Path(folder).expanduser().resolve()
        for path in find_runs(folder):
            if path in seen:
                continue
            seen.add(path)
            try:
                run = Run(path)
            except (OSError, ValueError, DrivelabError):
                continue  # a manifest being written or damaged: not a run to list
            rows.append(describe_run(run, folder if folder != path else folder.parent, now))
    wanted = (model or "").lower()
    rows = [row for row in rows
            if (status is None or row["status"] == status)
            and (not wanted or wanted in row["model"].lower() or wanted in str(row["experiment"] or "").lower())
            and (newer_than_s is None or (row["age_s"] is not None and row["age_s"] <= newer_than_s))
            and (kind is None or row["kind"] == kind)]
    return sorted(rows, key=lambda row: str(row["started_at"] or ""), reverse=True)


def headline_problem(row: Dict[str, Any]) -> str:
    """What the health column shows: a problem the health record found, else why the run did not complete, else
    the verdict."""
    verdict = row.get("verdict") or ""
    if verdict and not verdict.startswith("healthy"):
        return verdict
    if row["status"] == "killed":
        return "killed: its process is gone (or its heartbeat stopped) without a clean finish"
    if row["status"] == "failed" and row.get("error"):
        return row["error"]
    return verdict


def format_runs(rows: List[Dict[str, Any]]) -> str:
    """A plain-text table, one run per line; metric columns are the headline metrics any listed run has."""
    if not rows:
        return "no runs"
    metrics = [name for name in HEADLINE_METRICS if any(name in row["metrics"] for row in rows)]
    header = ["run", "kind", "status", "age", "model", "data", *[m.split("/", 1)[1] for m in metrics], "health"]
    table = []
    for row in rows:
        model = row["model"] + (f" ({row['experiment']})" if row["experiment"] else "")
        verdict = headline_problem(row)
        table.append([row["run"], row["kind"], row["status"], format_age(row["age_s"]), model,
                      (row["data_version"] or "-")[:8],
                      *[f"{row['metrics'][m]:.3f}" if m in row["metrics"] else "-" for m in metrics],
                      verdict[:90]])
    widths = [max(len(str(line[i])) for line in [header, *table]) for i in range(len(header) - 1)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) + "  " + str(line[-1])
             for line in [header, *table]]
    return "\n".join(line.rstrip() for line in lines)
