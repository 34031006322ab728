"""Run directories (any depth, sweeps included) and DVC experiments as pandas tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import pandas as pd

from drivelab.errors import DrivelabError
from drivelab.runs import Run, find_runs
from drivelab.runs.listing import describe_run
from drivelab.runs.logs import epoch_table

PathLike = Union[str, Path]


def flatten(tree: Any, prefix: str = "") -> Dict[str, Any]:
    """Nested dicts as {"a.b.c": value}; lists become strings so that they fit a table cell."""
    if isinstance(tree, dict):
        flat: Dict[str, Any] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: str(tree) if isinstance(tree, (list, tuple)) else tree}


def runs_table(runs_dir: PathLike, config_keys: Iterable[str] = ()) -> pd.DataFrame:
    """Every run under `runs_dir`: status (killed when its process died), health verdict, model, sweep, overrides, the config values that differ between runs
    (plus `config_keys`), epochs and final test metrics. Indexed by the run's path relative to `runs_dir`."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    rows, configs = [], []
    for path in find_runs(runs_dir):
        run = Run(path)
        manifest = run.manifest
        listed = describe_run(run, runs_dir)  # the same row `drivelab runs` prints
        rows.append({
            "run": str(path.relative_to(runs_dir)) if path != runs_dir else path.name,
            "sweep": listed["sweep"],
            "status": listed["status"],
            "health": listed["verdict"],
            "model": run.label,
            "overrides": " ".join(run.overrides),
            "started_at": pd.to_datetime(manifest.get("started_at"), utc=True),
            "data_version": manifest.get("data_version"),
            "seed": manifest.get("seed"),
            "epochs": manifest.get("epochs"),
            **run.metrics,
        })
        configs.append({k: v for k, v in flatten(run.saved_config).items() if not k.startswith(("paths.", "hydra."))})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    config_table = pd.DataFrame(configs)
    varying = varying_columns(config_table)
    chosen = varying + [key for key in config_keys if key in config_table and key not in varying]
    config_table = config_table[chosen].add_prefix("config.")
    metric_columns = [c for c in table.columns if "/" in c]
    ordered = [c for c in table.columns if c not in metric_columns]
    table = pd.concat([table[ordered], config_table, table[metric_columns]], axis=1)
    return table.set_index("run").sort_values("started_at")


def varying_columns(table: pd.DataFrame) -> List[str]:
    """The columns whose values are not all the same (missing counts as a value)."""
    return [c for c in table.columns if table[c].astype(str).nunique(dropna=False) > 1]


def learning_curves(runs_dir: PathLike) -> pd.DataFrame:
    """Per-epoch metrics of every run under `runs_dir` in one long table (run, epoch, metric, value)."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    frames = []
    for path in find_runs(runs_dir):
        epochs = epoch_table(path)
        if len(epochs):
            long = epochs.melt(id_vars="epoch", var_name="metric", value_name="value").dropna(subset=["value"])
            frames.append(long.assign(run=str(path.relative_to(runs_dir))))
    if not frames:
        return pd.DataFrame(columns=["run", "epoch", "metric", "value"])
    return pd.concat(frames, ignore_index=True)[["run", "epoch", "metric", "value"]]


def dvc_experiments(repo: PathLike, all_params: bool = False) -> pd.DataFrame:
    """`dvc exp show --json` run in `repo`, as a table (see `experiments_table`)."""
    repo = Path(repo).expanduser().resolve()
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        raise DrivelabError("the `dvc` command was not found; install the project (`make setup`) to list experiments")
    done = subprocess.run([dvc, "exp", "show", "--json"], cwd=repo, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DrivelabError(f"`dvc exp show` failed in {repo}: {last_line}")
    return experiments_table(json.loads(done.stdout), all_params=all_params)


def experiments_table(shown: List[Dict[str, Any]], all_params: bool = False) -> pd.DataFrame:
    """One row for the workspace, each commit and each experiment of DVC 3's `exp show --json` output: rev, parent
    commit, timestamp, the params that differ between rows (every param with `all_params`; `key`, or `file:key` for
    files other than params.yaml) and every metric (`file:key`)."""
    rows, params, metrics = [], [], []
    for baseline in shown:
        rev = str(baseline["rev"])
        baseline_name = baseline.get("name") or (rev if rev == "workspace" else rev[:7])
        entries = [(baseline, baseline_name, "")]
        for experiment in baseline.get("experiments") or []:
            entries += [(rev, rev.get("name") or experiment.get("name") or str(rev["rev"])[:7], baseline_name)
                        for rev in experiment.get("revs") or []]
        for entry, name, parent in entries:
            data = entry.get("data") or {}
            rows.append({
                "experiment": name,
                "rev": "workspace" if entry.get("rev") == "workspace" else str(entry.get("rev"))[:7],
                "parent": parent,
                "timestamp": pd.to_datetime(data.get("timestamp")),
                "error": (entry.get("error") or {}).get("msg"),
            })
            params.append({
                ("" if file == "params.yaml" else f"{file}:") + key: value
                for file, content in (data.get("params") or {}).items()
                for key, value in flatten(content.get("data") or {}).items()
            })
            metrics.append({
                f"{file}:{key}": value
                for file, content in (data.get("metrics") or {}).items()
                for key, value in flatten(content.get("data") or {}).items()
            })
    param_table = pd.DataFrame(params, index=range(len(rows)))
    if not all_params:
        param_table = param_table[varying_columns(param_table)]
    table = pd.concat([pd.DataFrame(rows), param_table, pd.DataFrame(metrics, index=range(len(rows)))], axis=1)
    return table.set_index("experiment")
