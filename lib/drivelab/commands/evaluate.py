"""`drivelab eval run_dir=DIR`: re-evaluate a finished run with its own saved config and best checkpoint.

The run's config is untrusted input (it may come from anywhere): it is re-validated, and its targets pass the
allowlist, before anything is instantiated. A physics baseline is evaluated on the same test split beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from drivelab import lineage
from drivelab.atomic import write_json
from drivelab.checkpoints import load_weights
from drivelab.config.targets import instantiate
from drivelab.models.base import build_model
from drivelab.config.validate import check, compose
from drivelab.runs import RunDirectory

EVAL_FILE = "eval_metrics.json"


def main(cfg: DictConfig, run_dir: Path) -> Dict[str, float]:
    run = RunDirectory(Path(cfg.run_dir))
    manifest = run.manifest()
    run_cfg = check("train", run.config())
    if cfg.data_dir:
        run_cfg.data.windows_dir = str(Path(cfg.data_dir) / "windows")
    windows_dir = Path(run_cfg.data.windows_dir)
    if not windows_dir.is_absolute() and not windows_dir.exists() and manifest.get("windows_dir"):
        windows_dir = Path(manifest["windows_dir"])  # a relative path from another working directory
        run_cfg.data.windows_dir = str(windows_dir)
    data_version = lineage.dvc_dir_md5(windows_dir)
    if manifest.get("data_version") and data_version != manifest["data_version"]:
        print(f"note: evaluating on data version {data_version}; the run was trained on {manifest['data_version']}")

    checkpoint = run.path / manifest["best_checkpoint"] if manifest.get("best_checkpoint") else None
    metrics = test_metrics(run_cfg, checkpoint)
    results = {"run_dir": str(run.path), "checkpoint": str(checkpoint) if checkpoint else None,
               "data_version": data_version, "metrics": metrics}
    if cfg.baseline:
        baseline_cfg = compose("train", [f"model={cfg.baseline}"]).model
        run_cfg.model = baseline_cfg
        results["baseline"] = {"model": cfg.baseline, "metrics": test_metrics(run_cfg, None)}

    output_dir = Path(cfg.output_dir) if cfg.output_dir else run.path
    write_json(output_dir / EVAL_FILE, results)
    print(comparison_table(results, manifest))
    print(f"written: {output_dir / EVAL_FILE}")
    return metrics


def test_metrics(run_cfg: DictConfig, checkpoint: Optional[Path]) -> Dict[str, float]:
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
    return {f"test/{name}": value for name, value in model.last_metrics["test"].items()}


def comparison_table(results: dict, manifest: dict) -> str:
    model_name = str(manifest.get("model") or "model").rsplit(".", 1)[-1]
    rows = [(model_name, results["metrics"])]
    if "baseline" in results:
        rows.append((results["baseline"]["model"], results["baseline"]["metrics"]))
    names = list(results["metrics"])
    header = "| model | " + " | ".join(name.split("/", 1)[1] for name in names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 1)]
    for label, metrics in rows:
        lines.append(f"| {label} | " + " | ".join(f"{metrics[name]:.3f}" for name in names) + " |")
    if "baseline" in results and results["baseline"]["metrics"].get("test/rmse_5s"):
        ratio = results["metrics"]["test/rmse_5s"] / results["baseline"]["metrics"]["test/rmse_5s"]
        lines.append(f"RMSE@5s ratio {model_name} / {results['baseline']['model']}: {ratio:.2f}")
    return "\n".join(lines)
