"""Sweeps over the training configuration.

- `space.py`: a search space from `conf/search/*.yaml`, checked against the training config, turned into overrides.
- `probe.py`: which validation metrics a configuration logs, found by running one validation batch.
- `pruning.py`: the Lightning callback that reports the objective to an Optuna trial each epoch and prunes.
- `study_setup.py`: the plan workers share, the study's database (create or resume), sampler and pruner.
- `workers.py`: worker processes (one machine or many, one study) running trials as `drivelab train` runs.
- `reports.py`: results table, best trial's overrides and config, ready-to-run experiment, plots.
- `multirun.py`: the Hydra callback writing a summary table of a `drivelab train -m` grid.
"""
