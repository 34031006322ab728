"""A model's evaluation written into a run directory: slice metrics as JSON, PNG plots, and the model's slice metrics
logged to the run's loggers (what `drivelab train` writes at the end and `drivelab eval` writes again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from drivelab.atomic import write_json
from drivelab.data.windows.batch import Batch
from drivelab.evaluation.results import Evaluation, evaluate
from drivelab.models.base import TaskModel
from drivelab.models.trajectory import TrajectoryModel

SLICES_FILE = "slice_metrics.json"
PLOTS_DIR = "plots"  # always made (empty for a task without plots): a declared DVC plots output
HORIZON_PLOT = "error_vs_horizon.png"
SAMPLES_PLOT = "sample_predictions.png"


def write_report(model: TaskModel, batches: Iterable[Batch], out_dir: Path, baseline: Optional[TaskModel] = None,
                 loggers: Iterable[Any] = (), step: int = 0, prefix: str = "", plots: bool = True) -> Evaluation:
    """Evaluate, then write `{prefix}slice_metrics.json` into `out_dir` (and, for trajectory models, the two PNG plots
    into `out_dir/plots/`) and log the model's slice metrics to `loggers`."""
    sample_hz = int(model.shapes["sample_hz"])
    evaluation = evaluate(model, batches, baseline, sample_hz=sample_hz)
    out_dir = Path(out_dir)
    write_json(out_dir / f"{prefix}{SLICES_FILE}", evaluation.to_json())
    (out_dir / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    if plots and evaluation.rmse_by_step:
        from drivelab.evaluation import plots as plotting

        plotting.error_vs_horizon(evaluation, out_dir / PLOTS_DIR / f"{prefix}{HORIZON_PLOT}")
        plotting.sample_grid(evaluation, out_dir / PLOTS_DIR / f"{prefix}{SAMPLES_PLOT}")
    flat = evaluation.flat_metrics()
    for logger in loggers:
        logger.log_metrics(flat, step=step)
    return evaluation


def default_baseline(model: TaskModel) -> Optional[TaskModel]:
    """The yardstick a run is reported beside: constant velocity for trajectory models, none otherwise."""
    if not isinstance(model, TrajectoryModel):
        return None
    from drivelab.models.physics import ConstantVelocity

    return ConstantVelocity(model.shapes).to(model.device)


def write_run_report(model: TaskModel, datamodule: Any, out_dir: Path, loggers: Iterable[Any] = (), step: int = 0,
                     prefix: str = "", baseline: Optional[TaskModel] = None, plots: bool = True) -> Evaluation:
    """The report of a trained model on its data module's test split (what `drivelab train` writes at the end)."""
    datamodule.setup("test")
    baseline = baseline if baseline is not None else default_baseline(model)
    return write_report(model, datamodule.test_dataloader(), out_dir, baseline=baseline, loggers=loggers, step=step,
                        prefix=prefix, plots=plots)
