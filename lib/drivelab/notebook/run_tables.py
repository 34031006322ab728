"""Run directories (any depth, sweeps included) and DVC experiments as pandas tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import pandas as pd
import yaml

from drivelab.errors import DrivelabError, MissingInputError
from drivelab.runs import CONFIG_FILE, MANIFEST_FILE, METRICS_FILE

PathLike = Union[str, Path]
SKIPPED_DIRS = {"checkpoints", "logs", "wandb", ".hydra", "__pycache__"}  # parts of a run, never runs themselves


@dataclass
class Run:
    """What a run directory holds, read into plain Python and pandas."""

    path: Path
    config: Dict[str, Any]
    manifest: Dict[str, Any]
    metrics: Dict[str, float]
    overrides: List[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return str(self.manifest.get("model") or self.config.get("model", {}).get("_target_", "?")).rsplit(".", 1)[-1]

    @property
    def best_checkpoint(self) -> Optional[Path]:
        relative = self.manifest.get("best_checkpoint")
        return self.path / relative if relative else None

    def epochs(self) -> pd.DataFrame:
        """Per-epoch training and validation metrics from the run's CSV logs."""
        return epoch_table(self.path)


def find_runs(runs_dir: PathLike) -> List[Path]:
    """Every run directory (one holding manifest.json) under `runs_dir`, at any depth, sorted by path; none when
    `runs_dir` does not exist yet."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    found = []
    for folder, subfolders, files in os.walk(runs_dir):
        if MANIFEST_FILE in files:
            found.append(Path(folder))
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_DIRS and not d.startswith("."))
    return sorted(found)


def load_run(path: PathLike) -> Run:
    path = Path(path).expanduser().resolve()
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise MissingInputError(f"{manifest_path} not found: {path} is not a drivelab run directory")
    config_path, metrics_path = path / CONFIG_FILE, path / METRICS_FILE
    overrides_path = path / ".hydra" / "overrides.yaml"
    return Run(
        path=path,
        config=yaml.safe_load(config_path.read_text()) if config_path.is_file() else {},
        manifest=json.loads(manifest_path.read_text()),
        metrics=json.loads(metrics_path.read_text()) if metrics_path.is_file() else {},
        overrides=list(yaml.safe_load(overrides_path.read_text()) or []) if overrides_path.is_file() else [],
    )


def newest_run(runs_dir: PathLike, fallback: Optional[PathLike] = None) -> Run:
    """The most recently started completed run under `runs_dir` that trained a model (else the most recent
    completed one, e.g. a physics baseline); else the run at `fallback` (e.g. the pipeline's models/train)."""
    completed = [run for run in map(load_run, find_runs(runs_dir)) if run.manifest.get("status") == "completed"]
    if completed:
        return max(completed, key=lambda run: (run.best_checkpoint is not None,
                                               str(run.manifest.get("started_at") or ""), str(run.path)))
    if fallback is not None and (Path(fallback) / MANIFEST_FILE).is_file():
        return load_run(fallback)
    raise MissingInputError(f"no completed run under {Path(runs_dir).expanduser().resolve()}"
                            + (f" and none at {fallback}" if fallback is not None else "")
                            + "; train one (`drivelab train`) or name a run directory")


def epoch_table(run_dir: PathLike) -> pd.DataFrame:
    """One row per epoch: the last value logged in that epoch for each train/val metric and learning rate.

    Lightning's CSV logger writes sparse rows (one per logging call) and a new version folder when a run resumes;
    later versions win for epochs they repeat. Test metrics are left out (they belong to no epoch).
    """
    files = sorted(Path(run_dir).glob("logs/csv/**/metrics.csv"), key=lambda p: (len(p.parts), str(p)))
    if not files:
        return pd.DataFrame(columns=["epoch"])
    logged = pd.concat([pd.read_csv(path).assign(_version=i) for i, path in enumerate(files)], ignore_index=True)
    logged = logged.drop(columns=[c for c in logged.columns if c.startswith("test/")])
    # Learning rates are logged just before their epoch, on rows without one: they belong to the next epoch.
    logged["epoch"] = logged.groupby("_version")["epoch"].bfill()
    values = [c for c in logged.columns if c not in ("epoch", "step", "_version")]
    logged = logged.dropna(subset=["epoch"]).dropna(subset=values, how="all").astype({"epoch": int})
    # A resumed run repeats epochs: keep each epoch's rows from the newest version that logged it.
    newest = logged.groupby("epoch")["_version"].transform("max")
    logged = logged[logged["_version"] == newest].drop(columns="_version")
    per_epoch = logged.groupby("epoch", sort=True).last()  # last non-null value per column
    return per_epoch.dropna(axis=1, how="all").reset_index()


def flatten(tree: Any, prefix: str = "") -> Dict[str, Any]:
    """Nested dicts as {"a.b.c": value}; lists become strings so that they fit a table cell."""
    if isinstance(tree, dict):
        flat: Dict[str, Any] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: str(tree) if isinstance(tree, (list, tuple)) else tree}


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


def runs_table(runs_dir: PathLike, config_keys: Iterable[str] = ()) -> pd.DataFrame:
    """Every run under `runs_dir`: status, model, sweep, overrides, the config values that differ between runs
    (plus `config_keys`), epochs and final test metrics. Indexed by the run's path relative to `runs_dir`."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    rows, configs = [], []
    for path in find_runs(runs_dir):
        run = load_run(path)
        manifest = run.manifest
        rows.append({
            "run": str(path.relative_to(runs_dir)) if path != runs_dir else path.name,
            "sweep": sweep_of(path, runs_dir),
            "status": manifest.get("status"),
            "model": run.model,
            "overrides": " ".join(run.overrides),
            "started_at": pd.to_datetime(manifest.get("started_at"), utc=True),
            "data_version": manifest.get("data_version"),
            "seed": manifest.get("seed"),
            "epochs": manifest.get("epochs"),
            **run.metrics,
        })
        configs.append({k: v for k, v in flatten(run.config).items() if not k.startswith(("paths.", "hydra."))})
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
