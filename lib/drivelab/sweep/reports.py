"""What a sweep leaves in its directory: a results table, the best trial's overrides and full config, optionally a
ready-to-run experiment option (`conf/experiment/<save_as>.yaml`), and Optuna's plots as PNG."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from drivelab.atomic import save_figure, write_text
from drivelab.config.validate import ConfigError, compose, conf_dir
from drivelab.runs import RunDirectory
from drivelab.sweep.space import override_key

RESULTS_FILE = "results.csv"
BEST_OVERRIDES_FILE = "best_overrides.yaml"
BEST_CONFIG_FILE = "best_config.yaml"
PLOTS_DIR = "plots"
GENERATED_MARK = "written by `drivelab sweep`"
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


def experiment_path(name: str, trial_overrides: Sequence[str] = ()) -> Path:
    """Where `sweep.save_as=NAME` writes; refuses odd names, files a person wrote, and trials run as experiments."""
    if not _EXPERIMENT_NAME.fullmatch(name):
        raise ConfigError(f"sweep.save_as={name} is not a plain file name (letters, digits, _ and -)")
    chosen = [o for o in trial_overrides if override_key(o) == "experiment"]
    if chosen:
        raise ConfigError(f"sweep.save_as={name}: the trials run {chosen[0]}, and an experiment option cannot include "
                          "another; give that experiment's settings as overrides instead")
    path = conf_dir() / "experiment" / f"{name}.yaml"
    if path.exists() and GENERATED_MARK not in path.read_text()[:300]:
        raise ConfigError(f"sweep.save_as={name}: {path} exists and was not written by a sweep; choose another name")
    return path


def trial_rows(study: optuna.Study, metric: str) -> List[Dict[str, Any]]:
    """One row per trial: state, objective, parameters, test metrics of its run, time, worker, run directory."""
    param_keys = list(dict.fromkeys(key for trial in study.trials for key in trial.params))
    rows = []
    for trial in study.get_trials(deepcopy=False):
        run_dir = trial.user_attrs.get("run_dir")
        metrics_file = Path(run_dir) / "metrics.json" if run_dir else None
        test_metrics = json.loads(metrics_file.read_text()) if metrics_file and metrics_file.is_file() else {}
        state = "surplus" if trial.user_attrs.get("surplus") else trial.state.name.lower()
        row: Dict[str, Any] = {"trial": trial.number, "state": state, metric: trial.value,
                               "epochs": len(trial.intermediate_values)}
        row.update({key: trial.params.get(key) for key in param_keys})
        row.update(test_metrics)
        row["seconds"] = (trial.user_attrs.get("seconds") or {}).get("total")
        row["worker"] = f"{trial.user_attrs['worker_host']}:{trial.user_attrs['worker_pid']}" if "worker_pid" in trial.user_attrs else None
        row["retry_of"] = trial.system_attrs.get("failed_trial")
        row["run_dir"] = run_dir
        rows.append(row)
    return rows


def write_results(sweep_dir: Path, rows: List[Dict[str, Any]]) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(sweep_dir) / RESULTS_FILE
    write_text(path, buffer.getvalue())
    return path


def results_table(rows: List[Dict[str, Any]], metric: str, direction: str, param_keys: List[str], limit: int = 10) -> str:
    """Markdown table of the finished trials, best first (the CSV holds every trial and column)."""
    complete = [row for row in rows if row["state"] == "complete"]
    complete.sort(key=lambda row: row[metric], reverse=direction == "maximize")
    shown = complete[:limit] + [row for row in rows if row["state"] == "pruned"][: max(0, limit - len(complete))]
    columns = ["trial", "state", metric, "epochs", *param_keys, "seconds"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in shown:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |")
    hidden = len(rows) - len(shown)
    if hidden:
        lines.append(f"({hidden} more trials in {RESULTS_FILE})")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def export_best(study: optuna.Study, sweep_dir: Path, metric: str) -> Optional[FrozenTrial]:
    """Write the best complete trial's overrides and full resolved config into the sweep directory."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    best = study.best_trial
    overrides = best.user_attrs.get("overrides", [])
    header = f"# Best trial {best.number} of study '{study.study_name}' ({metric} = {best.value:.6g}), {GENERATED_MARK}.\n"
    command = "drivelab train " + " ".join(overrides)
    write_text(Path(sweep_dir) / BEST_OVERRIDES_FILE, header + f"# Re-run it: {command}\n" + OmegaConf.to_yaml(overrides))
    run_config = Path(best.user_attrs["run_dir"]) / "config.yaml"
    if run_config.is_file():
        shutil.copyfile(run_config, Path(sweep_dir) / BEST_CONFIG_FILE)
    return best


def write_experiment(path: Path, best: FrozenTrial, study_name: str, metric: str) -> Path:
    """The best trial as an experiment option: `drivelab train experiment=<name>` composes the same config."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [o for o in best.user_attrs.get("overrides", []) if not override_key(o).startswith(("paths.", "hydra"))]
    defaults: List[Dict[str, Any]] = []
    body = OmegaConf.create({})
    for override in OverridesParser.create().parse_overrides(overrides):
        key, value = override.key_or_group, override.value()
        if "." not in key and (conf_dir() / key).is_dir():
            defaults.append({f"override /{key}": value})
        else:
            OmegaConf.update(body, key, value, force_add=True)
    content = OmegaConf.create({"defaults": defaults, **OmegaConf.to_container(body)}) if defaults else body
    text = (f"# @package _global_\n# Best trial {best.number} of sweep study '{study_name}' ({metric} = {best.value:.6g}), "
            f"{GENERATED_MARK}.\n# Run it: drivelab train experiment={path.stem}\n" + OmegaConf.to_yaml(content))
    write_text(path, text)
    same = OmegaConf.to_container(compose("train", overrides))
    saved = OmegaConf.to_container(compose("train", [f"experiment={path.stem}"]))
    for section in sorted(set(same) | set(saved)):
        if section != "paths" and same.get(section) != saved.get(section):  # paths are the machine's, not the idea's
            raise ConfigError(f"{path} does not reproduce the best trial's '{section}' settings; "
                              f"use {BEST_OVERRIDES_FILE} instead")
    return path


def save_plots(study: optuna.Study, sweep_dir: Path) -> Dict[str, str]:
    """Optimisation history, parameter importance and learning curves as PNG; returns what was skipped and why."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    folder = Path(sweep_dir) / PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Dict[str, str] = {}
    for name, draw in (("history", plots.plot_optimization_history), ("importance", plots.plot_param_importances),
                       ("intermediate_values", plots.plot_intermediate_values)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = draw(study)
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            save_figure(figure, folder / f"{name}.png", dpi=110, bbox_inches="tight")
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few finished trials for this plot
            skipped[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return skipped


def queued_retries(study: optuna.Study) -> Dict[int, int]:
    """Re-queued parameters of interrupted trials still waiting (queued trial number -> interrupted trial number).

    A study killed with several trials in flight queues each of them again; the resumed study stops as soon as it
    has its asked number of finished trials, so retries beyond that number stay queued for a later, larger run."""
    trials = study.get_trials(deepcopy=False)
    taken = {tuple(trial.system_attrs.get("retry_history", ())) for trial in trials if trial.state != TrialState.WAITING}
    queued: Dict[int, int] = {}
    for trial in trials:
        history = tuple(trial.system_attrs.get("retry_history", ()))
        if trial.state == TrialState.WAITING and history and history not in taken:
            taken.add(history)  # two workers may queue one dead trial twice: only one of them will run
            queued[trial.number] = trial.system_attrs["failed_trial"]
    return queued


def queued_note(queued: Dict[int, int], n_trials: int) -> str:
    interrupted = ", ".join(str(number) for number in sorted(queued.values()))
    return (f"{len(queued)} interrupted trial(s) ({interrupted}) stay queued with their parameters: the study already "
            f"has its {n_trials} trials; a later run with sweep.n_trials={n_trials + len(queued)} runs them first")


def settle_manifests(study: optuna.Study) -> None:
    """A trial whose worker died still says `running` in its manifest; the study knows it failed."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        run_dir = trial.user_attrs.get("run_dir")
        if not run_dir or trial.user_attrs.get("surplus") or not (Path(run_dir) / "manifest.json").is_file():
            continue
        run = RunDirectory(Path(run_dir))
        if run.manifest().get("status") == "running":
            run.update_manifest(status="failed", error=f"its worker stopped without finishing; study '{study.study_name}' "
                                f"marked trial {trial.number} failed when its heartbeat stopped")
