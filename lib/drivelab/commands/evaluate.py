"""`drivelab eval run_dir=DIR` / `run_dirs=[A,B,...]`: re-evaluate finished runs with their own saved configs and
best checkpoints, beside a baseline, on one data version: their own, or `data_dir=DIR` built with the same window
settings (a simulation-trained run on a real recording; `eval.split=all` scores every window of it).

Runs are opened with `drivelab.runs` (config re-validated, targets through the registry, weights-only checkpoints).
One run gets `eval_metrics.json` plus slice metrics and plots; several runs get one comparison table, written as
`comparison.json` and `comparison.md`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from omegaconf import DictConfig

from drivelab import lineage
from drivelab.atomic import write_json, write_text
from drivelab.config.validate import ConfigError, compose
from drivelab.errors import DrivelabError
from drivelab.evaluation.compare import EVAL_FILE, Row, runs_table
from drivelab.evaluation.report import write_run_report
from drivelab.evaluation.results import evaluate
from drivelab.data.windows.store import SPLITS
from drivelab.models.base import TaskModel
from drivelab.runs import Run, open_run
from drivelab.runs.builder import test

COMPARISON_FILE = "comparison.json"
COMPARISON_TABLE = "comparison.md"


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, float]:
    paths = [str(path) for path in (cfg.run_dirs or [])] + ([str(cfg.run_dir)] if cfg.run_dir else [])
    if not paths:
        raise ConfigError("nothing to evaluate: set run_dir=DIR or run_dirs=[A,B,...]")
    runs = [open_run(Path(path)) for path in paths]
    versions = [lineage.dvc_dir_md5(run.windows_dir(cfg.data_dir)) for run in runs]
    check_same_data(runs, versions, cfg.data_dir)
    if len(runs) == 1:
        return evaluate_one(cfg, runs[0], versions[0])
    evaluate_many(cfg, runs, versions[0])
    return {}


def scored_splits(cfg: DictConfig) -> Tuple[str, ...]:
    split = cfg.eval.split
    return SPLITS if getattr(split, "name", split) == "all" else ("test",)


def check_same_data(runs: List[Run], versions: List[str], data_dir: Optional[str]) -> None:
    if len(set(versions)) > 1:
        listed = "; ".join(f"{run.name}: {run.windows_dir(data_dir)} ({version})" for run, version in zip(runs, versions))
        raise DrivelabError(f"the runs were trained on different data versions ({listed}); pass data_dir=DIR to "
                            "evaluate all of them on one")
    for run, version in zip(runs, versions):
        if run.data_version and run.data_version != version:
            print(f"note: evaluating {run.name} on data version {version}; it was trained on {run.data_version}")


def baseline_for(cfg: DictConfig, run: Run, model: TaskModel) -> Optional[Tuple[str, Dict[str, float], TaskModel]]:
    """The configured baseline on the same test split, if it solves the same task as the run's model."""
    if not cfg.baseline:
        return None
    baseline_cfg = run.config_for(cfg.data_dir)
    baseline_cfg.model = compose("train", [f"model={cfg.baseline}"]).model
    metrics, baseline, _ = test(baseline_cfg, test_splits=scored_splits(cfg))
    if baseline.task != model.task:
        print(f"note: baseline={cfg.baseline} predicts {baseline.task!r} and the run {model.task!r}; "
              "no baseline shown (choose one of the same task, e.g. baseline=intention_majority)")
        return None
    return str(cfg.baseline), metrics, baseline


def evaluate_one(cfg: DictConfig, run: Run, data_version: str) -> Dict[str, float]:
    metrics, model, datamodule = run.test(cfg.data_dir, test_splits=scored_splits(cfg))
    checkpoint = run.best_checkpoint
    results: Dict[str, Any] = {"run_dir": str(run.path), "checkpoint": str(checkpoint) if checkpoint else None,
                               "data_version": data_version, "splits": list(scored_splits(cfg)), "metrics": metrics}
    rows = [Row(run.label, metrics)]
    baseline = baseline_for(cfg, run, model)
    if baseline is not None:
        results["baseline"] = {"model": baseline[0], "metrics": baseline[1]}
        rows.append(Row(baseline[0], baseline[1]))
    output_dir = Path(cfg.output_dir) if cfg.output_dir else run.path
    write_json(output_dir / EVAL_FILE, results)
    if cfg.report:
        write_run_report(model, datamodule, output_dir, prefix="eval_",
                         baseline=baseline[2] if baseline is not None else None)
    print(runs_table(rows, ratio_to=baseline[0] if baseline is not None else None))
    print(f"written: {output_dir / EVAL_FILE}")
    return metrics


def evaluate_many(cfg: DictConfig, runs: List[Run], data_version: str) -> None:
    rows: List[Row] = []
    entries: List[Dict[str, Any]] = []
    baseline = None
    for index, run in enumerate(runs):
        metrics, model, datamodule = run.test(cfg.data_dir, test_splits=scored_splits(cfg))
        label = f"{run.label} ({run.name})"
        rows.append(Row(label, metrics))
        datamodule.setup("test")
        slices = evaluate(model, datamodule.test_dataloader(), sample_hz=int(model.shapes["sample_hz"]), worst=0,
                          typical=0).to_json()["slices"]
        entries.append({"run_dir": str(run.path), "label": label, "checkpoint": str(run.best_checkpoint or ""),
                        "metrics": metrics, "slices": slices})
        if index == 0:  # all runs share the test split, so one baseline serves them all
            baseline = baseline_for(cfg, run, model)
    if baseline is not None:
        rows.append(Row(baseline[0], baseline[1]))
    table = runs_table(rows, ratio_to=baseline[0] if baseline is not None else None)
    print(table)
    output_dir = Path(cfg.output_dir) if cfg.output_dir else \
        Path(cfg.paths.runs_dir) / "comparisons" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    write_json(output_dir / COMPARISON_FILE, {
        "data_version": data_version, "runs": entries,
        "baseline": {"model": baseline[0], "metrics": baseline[1]} if baseline is not None else None})
    write_text(output_dir / COMPARISON_TABLE, table + "\n")
    print(f"written: {output_dir / COMPARISON_FILE}, {output_dir / COMPARISON_TABLE}")

