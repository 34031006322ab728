"""After `drivelab train -m ...`: one table of every job's config choices and metrics (summary.csv, and printed).

A Hydra callback (conf/hydra/default.yaml) that runs in the launching process once every job has ended, whatever
the launcher (basic, joblib, submitit): it reads the jobs' directories, not the launcher's return values, so jobs
that ran in other processes or on other machines are included. It stays light: no torch, no pandas.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from drivelab.atomic import write_text

SUMMARY_FILE = "summary.csv"


class MultirunSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        rows = job_rows(sweep_dir)
        if not rows:
            return
        write_summary(sweep_dir / SUMMARY_FILE, rows)
        print(markdown_table(rows))
        print(f"summary of {len(rows)} jobs: {sweep_dir / SUMMARY_FILE}")


def job_rows(sweep_dir: Path) -> List[Dict[str, Any]]:
    """One row per job directory: the overrides that differ between jobs, status, metrics, run directory."""
    jobs = [path for path in sweep_dir.iterdir() if path.is_dir() and not path.name.startswith(".")]
    jobs.sort(key=lambda path: (not path.name.isdigit(), int(path.name) if path.name.isdigit() else 0, path.name))
    choices = [_overrides(job) for job in jobs]
    keys = list(dict.fromkeys(key for job_choices in choices for key in job_choices))
    varied = [key for key in keys if len({str(job_choices.get(key)) for job_choices in choices}) > 1] or keys
    rows = []
    for job, job_choices in zip(jobs, choices):
        manifest = _read_json(job / "manifest.json")
        if not manifest and not job_choices:
            continue  # not a job directory
        row: Dict[str, Any] = {"job": job.name}
        row.update({key: job_choices.get(key) for key in varied})
        row["status"] = manifest.get("status")
        row.update(_read_json(job / "metrics.json"))
        row["run_dir"] = str(job)
        rows.append(row)
    return rows


def _overrides(job: Path) -> Dict[str, str]:
    path = job / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    overrides = OmegaConf.to_container(OmegaConf.load(path))
    return dict(override.split("=", 1) for override in overrides if "=" in override)


def _read_json(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def write_summary(path: Path, rows: List[Dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def markdown_table(rows: List[Dict[str, Any]]) -> str:
    columns = [column for column in dict.fromkeys(key for row in rows for key in row) if column != "run_dir"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))
                 for value in (row.get(column) for column in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
