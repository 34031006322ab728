"""`drivelab eval run_dir=DIR` / `run_dirs=[A,B,...]`: re-evaluate finished runs with their own saved configs and
best checkpoints, beside a baseline, on one data version.

A run's config is untrusted input (it may come from anywhere): it is re-validated, and its targets pass the
allowlist, before anything is instantiated. One run gets `eval_metrics.json` plus slice metrics and plots; several
runs get one comparison table (and `comparison.json` in `output_dir`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytorch_lightning as pl
from omegaconf import DictConfig

from drivelab import lineage
from drivelab.atomic import write_json
from drivelab.checkpoints import load_weights
from drivelab.config.targets import instantiate
from drivelab.config.validate import ConfigError, check, compose
from drivelab.errors import DrivelabError
from drivelab.evaluation.compare import Row, runs_table
from drivelab.evaluation.report import evaluate, write_run_report
from drivelab.models.base import TaskModel, build_model
from drivelab.runs import RunDirectory

EVAL_FILE = "eval_metrics.json"
COMPARISON_FILE = "comparison.json"


@dataclass
class SavedRun:
    run: RunDirectory
    manifest: Dict[str, Any]
    config: DictConfig  # the run's own config, re-validated, pointing at the windows to evaluate on
    checkpoint: Optional[Path]
    data_version: str

    @property
    def label(self) -> str:
        return str(self.manifest.get("model") or "model").rsplit(".", 1)[-1]


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, float]:
    paths = [str(path) for path in (cfg.run_dirs or [])] + ([str(cfg.run_dir)] if cfg.run_dir else [])
    if not paths:
        raise ConfigError("nothing to evaluate: set run_dir=DIR or run_dirs=[A,B,...]")
    runs = [load_run(Path(path), cfg.data_dir) for path in paths]
    check_same_data(runs)
    if len(runs) == 1:
        return evaluate_one(cfg, runs[0])
    evaluate_many(cfg, runs)
    return {}


def load_run(path: Path, data_dir: Optional[str]) -> SavedRun:
    run = RunDirectory(path)
    manifest = run.manifest()
    run_cfg = check("train", run.config())
    if data_dir:
        run_cfg.data.windows_dir = str(Path(data_dir) / "windows")
    windows_dir = Path(run_cfg.data.windows_dir)
    if not windows_dir.is_absolute() and not windows_dir.exists() and manifest.get("windows_dir"):
        windows_dir = Path(manifest["windows_dir"])  # a relative path from another working directory
        run_cfg.data.windows_dir = str(windows_dir)
    checkpoint = run.path / manifest["best_checkpoint"] if manifest.get("best_checkpoint") else None
    return SavedRun(run, manifest, run_cfg, checkpoint, lineage.dvc_dir_md5(windows_dir))


def check_same_data(runs: List[SavedRun]) -> None:
    versions = {run.data_version for run in runs}
    if len(versions) > 1:
        listed = "; ".join(f"{run.run.path.name}: {run.config.data.windows_dir} ({run.data_version})" for run in runs)
        raise DrivelabError(f"the runs point at different data versions ({listed}); pass data_dir=DIR to evaluate "
                            "all of them on one")
    for run in runs:
        trained_on = run.manifest.get("data_version")
        if trained_on and trained_on != run.data_version:
            print(f"note: evaluating {run.run.path.name} on data version {run.data_version}; "
                  f"it was trained on {trained_on}")


def test_metrics(run_cfg: DictConfig, checkpoint: Optional[Path]) -> Tuple[Dict[str, float], TaskModel, Any]:
    """The run's test procedure, rebuilt from its config: same data module, same batches, same model."""
    pl.seed_everything(run_cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(run_cfg.data)
    model = build_model(run_cfg.model, datamodule.shapes)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, deterministic=True, limit_test_batches=run_cfg.trainer.limit_test_batches,
    )
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {f"test/{name}": value for name, value in model.last_metrics["test"].items()}, model, datamodule


def baseline_for(cfg: DictConfig, run: SavedRun, model: TaskModel) -> Optional[Tuple[str, Dict[str, float], TaskModel]]:
    """The configured baseline on the same test split, if it solves the same task as the run's model."""
    if not cfg.baseline:
        return None
    baseline_cfg = run.config.copy()
    baseline_cfg.model = compose("train", [f"model={cfg.baseline}"]).model
    metrics, baseline, _ = test_metrics(baseline_cfg, None)
    if baseline.task != model.task:
        print(f"note: baseline={cfg.baseline} predicts {baseline.task!r} and the run {model.task!r}; "
              "no baseline shown (choose one of the same task, e.g. baseline=intention_majority)")
        return None
    return str(cfg.baseline), metrics, baseline


def evaluate_one(cfg: DictConfig, run: SavedRun) -> Dict[str, float]:
    metrics, model, datamodule = test_metrics(run.config, run.checkpoint)
    results: Dict[str, Any] = {"run_dir": str(run.run.path), "checkpoint": str(run.checkpoint) if run.checkpoint else None,
                               "data_version": run.data_version, "metrics": metrics}
    rows = [Row(run.label, metrics)]
    baseline = baseline_for(cfg, run, model)
    if baseline is not None:
        results["baseline"] = {"model": baseline[0], "metrics": baseline[1]}
        rows.append(Row(baseline[0], baseline[1]))
    output_dir = Path(cfg.output_dir) if cfg.output_dir else run.run.path
    write_json(output_dir / EVAL_FILE, results)
    if cfg.report:
        write_run_report(model, datamodule, output_dir, prefix="eval_",
                         baseline=baseline[2] if baseline is not None else None)
    print(runs_table(rows, ratio_to=baseline[0] if baseline is not None else None))
    print(f"written: {output_dir / EVAL_FILE}")
    return metrics


def evaluate_many(cfg: DictConfig, runs: List[SavedRun]) -> None:
    rows: List[Row] = []
    entries: List[Dict[str, Any]] = []
    baseline = None
    for index, run in enumerate(runs):
        metrics, model, datamodule = test_metrics(run.config, run.checkpoint)
        label = f"{run.label} ({run.run.path.name})"
        rows.append(Row(label, metrics))
        datamodule.setup("test")
        slices = evaluate(model, datamodule.test_dataloader(), sample_hz=int(model.shapes["sample_hz"]), worst=0,
                          typical=0).to_json()["slices"]
        entries.append({"run_dir": str(run.run.path), "label": label, "checkpoint": str(run.checkpoint or ""),
                        "metrics": metrics, "slices": slices})
        if index == 0:  # all runs share the test split, so one baseline serves them all
            baseline = baseline_for(cfg, run, model)
    if baseline is not None:
        rows.append(Row(baseline[0], baseline[1]))
    print(runs_table(rows, ratio_to=baseline[0] if baseline is not None else None))
    if cfg.output_dir:
        path = Path(cfg.output_dir) / COMPARISON_FILE
        write_json(path, {"data_version": runs[0].data_version, "runs": entries,
                          "baseline": {"model": baseline[0], "metrics": baseline[1]} if baseline is not None else None})
        print(f"written: {path}")


def comparison_table(results: Dict[str, Any], manifest: Dict[str, Any]) -> str:
    """The table of one `eval_metrics.json` (the run beside its baseline), as `drivelab demo` prints it."""
    rows = [Row(str(manifest.get("model") or "model").rsplit(".", 1)[-1], results["metrics"])]
    if "baseline" in results:
        rows.append(Row(results["baseline"]["model"], results["baseline"]["metrics"]))
    return runs_table(rows, ratio_to=rows[1].label if len(rows) > 1 else None)
