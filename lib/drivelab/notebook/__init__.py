"""What a notebook needs in one line each: configs, data versions, runs, models and plots, the CLI's own way.

    from drivelab import notebook as nb
    cfg = nb.compose("train", ["model=gru"])          # the very same conf/, checked by the same schemas
    data = nb.load_data(cfg)                         # windows, per-window table, health report
    runs = nb.runs_table(cfg.paths.runs_dir)         # every run and sweep job, config choices and metrics
    model = nb.load_model(run_dir)                   # the run's best model, weights-only

Torch and Lightning are imported only by the functions that need a model.
"""

from drivelab.notebook.datasets import DataVersion, health_tables, load_data, window_table
from drivelab.notebook.plots import plot_horizon_errors, plot_learning_curves, plot_scene, plot_scenes
from drivelab.notebook.predictions import (
    baseline_model,
    batches,
    evaluate,
    horizon_errors,
    load_model,
    predict,
    slice_table,
    window_errors,
    worst_windows,
)
from drivelab.notebook.project import compose, path_override, project_root
from drivelab.notebook.run_tables import dvc_experiments, experiments_table, learning_curves, runs_table, varying_columns
from drivelab.runs import Run, find_runs, newest_run
from drivelab.runs import open_run as load_run
from drivelab.runs.logs import epoch_table

__all__ = [
    "DataVersion", "Run", "baseline_model", "batches", "compose", "dvc_experiments", "epoch_table", "evaluate",
    "experiments_table", "find_runs", "health_tables", "horizon_errors", "learning_curves", "load_data", "load_model",
    "load_run", "newest_run", "path_override", "plot_horizon_errors", "plot_learning_curves", "plot_scene",
    "plot_scenes", "predict", "project_root", "runs_table", "slice_table", "varying_columns", "window_errors",
    "window_table", "worst_windows",
]
