"""Metric definitions and physics baselines against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from drivelab.metrics import TrajectoryMetrics, horizon_steps, trajectory_errors
from drivelab.models.physics import ConstantAcceleration, ConstantVelocity

SHAPES = {"history_steps": 16, "future_steps": 25, "max_neighbours": 2, "sample_hz": 5,
          "features": ["x_m", "y_m", "vx_mps", "vy_mps"],
          "normalisation": {"history_mean": [0, 0, 0, 0], "history_std": [1, 1, 1, 1], "residual_std": [1, 1]}}


def test_horizons_are_whole_seconds_at_5hz():
    assert horizon_steps(25, 5) == {1: 4, 2: 9, 3: 14, 4: 19, 5: 24}


def test_errors_of_a_constant_lateral_offset():
    true = np.zeros((2, 25, 2))
    pred = np.zeros((2, 25, 2))
    pred[0, :, 1] = 1.0  # 1 m off everywhere
    pred[1, :, 1] = 3.0  # 3 m off everywhere: a miss
    metrics = trajectory_errors(pred, true, sample_hz=5)
    assert metrics["rmse_1s"] == pytest.approx(math.sqrt((1 + 9) / 2))
    assert metrics["rmse_5s"] == pytest.approx(math.sqrt(5))
    assert metrics["ade"] == pytest.approx(2.0)
    assert metrics["fde"] == pytest.approx(2.0)
    assert metrics["miss_rate"] == pytest.approx(0.5)


def test_accumulated_metrics_do_not_depend_on_batching():
    generator = torch.Generator().manual_seed(0)
    pred, true = torch.randn(100, 25, 2, generator=generator), torch.randn(100, 25, 2, generator=generator)
    whole = trajectory_errors(pred, true, 5)
    metric = TrajectoryMetrics(25, 5)
    for start in range(0, 100, 7):
        metric.update(pred[start:start + 7], true[start:start + 7])
    for name, value in metric.compute().items():
        assert value == pytest.approx(whole[name], abs=1e-12)


def batch_with_present_motion(velocity, previous_velocity):
    history = torch.zeros(1, 16, 4)
    history[0, -1, 2:] = torch.tensor(velocity)
    history[0, -2, 2:] = torch.tensor(previous_velocity)
    return {"history": history}


def test_constant_velocity_extrapolates_the_present_velocity():
    batch = batch_with_present_motion([20.0, 1.0], [20.0, 1.0])
    pred = ConstantVelocity(SHAPES)(batch)
    assert pred[0, 4].tolist() == pytest.approx([20.0, 1.0])
    assert pred[0, 24].tolist() == pytest.approx([100.0, 5.0])
    flat = ConstantVelocity(SHAPES, lateral_speed=False)(batch)
    assert flat[0, 24].tolist() == pytest.approx([100.0, 0.0])


def test_constant_acceleration_uses_the_last_velocity_change():
    batch = batch_with_present_motion([20.0, 0.0], [19.8, 0.0])  # +1 m/s^2 at 5 Hz
    pred = ConstantAcceleration(SHAPES)(batch)
    assert pred[0, 9, 0].item() == pytest.approx(20 * 2 + 0.5 * 1 * 2**2, rel=1e-5)


def test_min_ade_and_min_fde_take_the_best_mode_per_sample():
    from drivelab.metrics import ModeMetrics

    true = torch.zeros(2, 25, 2)
    modes = torch.zeros(2, 3, 25, 2)
    modes[0, 0, :, 0], modes[0, 1, :, 0], modes[0, 2, :, 0] = 4.0, 1.0, 2.0  # best mode of sample 0: 1 m off
    modes[1, :, :, 1] = 3.0  # every mode of sample 1: 3 m off
    metric = ModeMetrics()
    metric.update(modes, true)
    assert metric.compute() == pytest.approx({"min_ade": 2.0, "min_fde": 2.0})


def test_accuracy_and_macro_f1_of_a_known_confusion():
    from drivelab.metrics import ClassificationMetrics

    true = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 0, 0])
    metric = ClassificationMetrics(3)
    metric.update(predicted[:3], true[:3])
    metric.update(predicted[3:], true[3:])
    f1_keep, f1_left, f1_right = 2 * 3 / (4 + 5), 2 * 1 / (2 + 2), 0.0
    assert metric.compute() == pytest.approx({"accuracy": 4 / 7, "macro_f1": (f1_keep + f1_left + f1_right) / 3})
