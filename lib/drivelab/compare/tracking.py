"""The comparison in W&B: every run it trains logs into one group, and a summary run of that group holds the table
(job type `compare`), offline unless W&B is told otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional


def log_summary(results: Dict[str, Any], wandb_settings: Optional[Dict[str, Any]], group: str, output_dir: Path) -> None:
    """One W&B run in `group` with every model's mean and sd and every difference with its interval, per slice."""
    if not wandb_settings:
        return  # W&B is not among the configured loggers
    import wandb

    os.environ.setdefault("WANDB_MODE", str(wandb_settings.get("mode") or "offline"))
    output_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=str(wandb_settings.get("project") or "drivelab"), group=group, job_type="compare",
                     name=group, dir=str(output_dir),
                     config={key: results[key] for key in ("idea", "baselines", "seeds", "data_version", "confidence")})
    models = wandb.Table(columns=["data", "slice", "model", "metric", "mean", "sd"])
    differences = wandb.Table(columns=["data", "slice", "baseline", "metric", "difference", "low", "high", "significant"])
    for evaluation in results["evaluations"]:
        for name, entry in evaluation["slices"].items():
            for model, by_metric in entry["models"].items():
                for metric, summary in by_metric.items():
                    models.add_data(evaluation["title"], name, model, metric, summary["mean"], summary["sd"])
            for baseline, by_metric in entry["differences"].items():
                for metric, value in by_metric.items():
                    differences.add_data(evaluation["title"], name, baseline, metric, value["difference"], value["low"],
                                         value["high"], value["significant"])
    run.log({"models": models, "differences": differences})
    first = results["evaluations"][0]["slices"]["all"]
    run.summary.update({f"{baseline}/{metric}": value["difference"]
                        for baseline, by_metric in first["differences"].items() for metric, value in by_metric.items()})
    run.finish()
