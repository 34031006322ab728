"""LightningModules for highway trajectory prediction; all share `TrajectoryModel`, which owns the metrics."""
