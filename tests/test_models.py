"""Every shipped model: output shapes, neighbour masks, the multimodal losses on known answers, the intention task."""

import math

import pytest
import torch

from drivelab.config.validate import compose, conf_dir
from drivelab.checkpoints import load_weights
from drivelab.errors import DrivelabError
from drivelab.runs.builder import build_model
from drivelab.models.features import lane_context
from drivelab.models.intention import MajorityClass
from drivelab.models.physics import ConstantVelocity
from drivelab.models.trajectory import Modes, mixture_nll, winner_takes_all_loss

SHAPES = {"history_steps": 16, "future_steps": 25, "max_neighbours": 3, "sample_hz": 5,
          "features": ["x_m", "y_m", "vx_mps", "vy_mps"],
          "normalisation": {"history_mean": [-20.0, 0.0, 25.0, 0.0], "history_std": [15.0, 1.0, 4.0, 0.5],
                            "residual_std": [2.0, 0.5]}}
MODEL_OPTIONS = sorted(path.stem for path in (conf_dir() / "model").glob("*.yaml"))
NEIGHBOUR_MODELS = ["mlp", "gru", "lstm", "interaction", "multimodal", "intention_gru"]


def make_batch(seed: int = 0) -> dict:
    n = 6
    generator = torch.Generator().manual_seed(seed)
    times_s = torch.arange(-15, 1, dtype=torch.float32) / 5
    speed = 20 + 10 * torch.rand(n, 1, generator=generator)
    history = torch.zeros(n, 16, 4)
    history[..., 0], history[..., 2] = speed * times_s, speed
    neighbours = torch.randn(n, 3, 16, 4, generator=generator) * torch.tensor([20.0, 3.0, 3.0, 0.3])
    mask = torch.ones(n, 3, 16, dtype=torch.bool)
    mask[0] = False  # no neighbours at all
    mask[1, 2] = False  # one slot empty
    mask[2, 1, :8] = False  # a neighbour that arrived half-way through the history
    mask[3, 0, 10:] = False  # a neighbour that left before the present: absent now
    neighbours[~mask] = 0.0
    future = speed[:, :, None] * (torch.arange(1, 26) / 5)[None, :, None] * torch.tensor([1.0, 0.0])
    lane = torch.ones(n, 16 + 25, dtype=torch.int8)  # the middle of three lanes...
    lane[1, 16:] = 0  # ...except a change to the left lane after the present
    lane[4, 16:] = 2
    return {"history": history, "future": future, "neighbours": neighbours, "neighbour_mask": mask,
            "lane": lane, "lane_count": torch.full((n,), 3, dtype=torch.int8),
            "lane_change": torch.tensor([False, True, False, False, True, False]),
            "intention": torch.tensor([0, 1, 0, 0, 2, 0], dtype=torch.int8)}


def model_for(option: str, batch: dict):
    model = build_model(compose("train", [f"model={option}"]).model, SHAPES)
    if isinstance(model, MajorityClass):
        model.count_classes(batch["intention"])
    return model.eval()


@pytest.mark.parametrize("option", MODEL_OPTIONS)
def test_every_model_option_predicts_its_tasks_shape(option):
    batch = make_batch()
    model = model_for(option, batch)
    with torch.no_grad():
        output = model(batch)
    if model.task == "intention":
        assert output.shape == (6, 3)
    elif isinstance(output, Modes):
        assert output.trajectories.shape == (6, model.num_modes, 25, 2) and output.logits.shape == (6, model.num_modes)
        assert model.num_modes > 1
    else:
        assert output.shape == (6, 25, 2)
    assert torch.isfinite(output.trajectories if isinstance(output, Modes) else output).all()


@pytest.mark.parametrize("option", NEIGHBOUR_MODELS)
def test_values_behind_the_neighbour_mask_change_nothing(option):
    batch = make_batch()
    model = model_for(option, batch)
    noisy = dict(batch, neighbours=batch["neighbours"] + 100.0 * (~batch["neighbour_mask"])[..., None])
    with torch.no_grad():
        clean_out, noisy_out = flat(model(batch)), flat(model(noisy))
    torch.testing.assert_close(noisy_out, clean_out, rtol=0, atol=1e-5)


@pytest.mark.parametrize("option", NEIGHBOUR_MODELS)
def test_present_neighbours_change_the_prediction(option):
    batch = make_batch()
    model = model_for(option, batch)
    moved = dict(batch, neighbours=batch["neighbours"] + 5.0 * batch["neighbour_mask"][..., None])
    with torch.no_grad():
        before, after = flat(model(batch)), flat(model(moved))
    assert not torch.allclose(before[1:], after[1:])  # windows with neighbours react
    torch.testing.assert_close(before[0], after[0])  # the window without any does not


@pytest.mark.parametrize("option", NEIGHBOUR_MODELS)
def test_the_order_of_neighbour_slots_changes_nothing(option):
    batch = make_batch()
    model = model_for(option, batch)
    order = torch.tensor([2, 0, 1])
    shuffled = dict(batch, neighbours=batch["neighbours"][:, order], neighbour_mask=batch["neighbour_mask"][:, order])
    with torch.no_grad():
        torch.testing.assert_close(flat(model(shuffled)), flat(model(batch)), rtol=1e-5, atol=1e-5)  # summation order


def flat(output) -> torch.Tensor:
    """Any model output as one (batch, values) tensor: trajectories, modes with their logits, or class logits."""
    if isinstance(output, Modes):
        return torch.cat([output.trajectories.flatten(1), output.logits], dim=1)
    return output.flatten(1)


def test_lane_context_reads_history_lanes_and_neighbouring_lanes_only():
    batch = make_batch()
    batch["lane"][2, :10] = 2  # came from the right lane during the history
    batch["lane"][3] = 0  # in the leftmost lane throughout
    context = lane_context(batch)
    assert context.shape == (6, 18)
    assert context[2, :16].tolist() == [1.0] * 10 + [0.0] * 6
    assert context[:, 16].tolist() == [1, 1, 1, 0, 1, 1]  # a lane to the left exists
    assert context[:, 17].tolist() == [1, 1, 1, 1, 1, 1]  # a lane to the right exists
    batch["lane"][:, 16:] = 0  # future lanes are the label: changing them changes nothing
    assert torch.equal(lane_context(batch), context)


def test_lane_context_is_zero_where_lanes_are_unknown():
    batch = make_batch()
    batch["lane"][3:] = -1  # a source without lanes
    batch["lane_count"][3:] = 0
    context = lane_context(batch)
    assert (context[3:] == 0).all() and (context[:3, 16:] == 1).all()


def test_intention_task_refuses_windows_without_lane_labels():
    batch = make_batch()
    batch["intention"][2] = -1
    model = model_for("intention_gru", batch)
    with pytest.raises(DrivelabError, match="no lane-change intention labels"):
        model.loss(model(batch), batch)


@pytest.mark.parametrize("option", ["mlp", "gru", "interaction", "intention_gru"])
def test_lane_history_changes_the_prediction_and_future_lanes_do_not(option):
    batch = make_batch()
    model = model_for(option, batch)
    assert model.use_lanes
    with torch.no_grad():
        before = model(batch)
        batch["lane"][:, 16:] = 2
        assert torch.equal(model(batch), before)
        batch["lane"][:, :8] = 0
        assert not torch.allclose(model(batch), before)


def test_winner_takes_all_regresses_only_the_closest_mode():
    true = torch.zeros(1, 25, 2)
    trajectories = torch.stack([true[0], true[0] + 3.0])[None]  # mode 0 exact, mode 1 off by (3, 3) everywhere
    logits = torch.tensor([[0.5, 1.5]])
    loss = winner_takes_all_loss(Modes(trajectories, logits), true)
    # regression 0 (mode 0 is exact) + cross-entropy towards mode 0: log(1 + e^(1.5 - 0.5))
    assert loss.item() == pytest.approx(math.log(1 + math.e), rel=1e-6)


def test_mixture_nll_of_two_equally_likely_modes():
    true = torch.zeros(1, 25, 2)
    trajectories = torch.stack([true[0], true[0] + torch.tensor([1.0, 0.0])])[None]  # mode 1 is 1 m off at each step
    logits = torch.zeros(1, 2)
    loss = mixture_nll(Modes(trajectories, logits), true, log_scale=torch.zeros(25))
    per_point = -math.log(2 * math.pi)  # log density of a unit 2-D Gaussian at its mean
    exact, off = 25 * per_point, 25 * (per_point - 0.5)
    expected = -math.log(0.5 * math.exp(exact) + 0.5 * math.exp(off)) / 25
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_single_mode_metrics_score_the_most_likely_mode_and_min_metrics_the_best():
    model = build_model(compose("train", ["model=multimodal", "model.num_modes=2"]).model, SHAPES)
    batch = make_batch()
    good, bad = batch["future"], batch["future"] + torch.tensor([0.0, 2.0])
    output = Modes(torch.stack([bad, good], dim=1), torch.tensor([[2.0, 0.0]]).expand(6, 2))  # the bad one is likelier
    metrics = model.make_metrics()
    model.update_metrics(metrics, output, batch)
    values = metrics.compute()
    assert values["rmse_5s"] == pytest.approx(2.0) and values["ade"] == pytest.approx(2.0)
    assert values["min_ade"] == pytest.approx(0.0) and values["min_fde"] == pytest.approx(0.0)


def test_majority_class_predicts_the_most_frequent_training_label():
    model = MajorityClass(SHAPES)
    model.count_classes(torch.tensor([2, 2, 0, 2, 1]))
    batch = make_batch()
    assert model(batch).argmax(dim=1).tolist() == [2] * 6


def test_intention_metrics_do_not_include_trajectory_metrics():
    batch = make_batch()
    model = model_for("intention_majority", batch)
    metrics = model.make_metrics()
    model.update_metrics(metrics, model(batch), batch)
    assert set(metrics.compute()) == {"accuracy", "macro_f1"}


def test_optimiser_and_scheduler_are_config_choices():
    overrides = ["model=gru", "model.optimizer._target_=torch.optim.SGD", "+model.optimizer.momentum=0.9",
                 "model.scheduler._target_=torch.optim.lr_scheduler.StepLR", "~model.scheduler.T_max",
                 "+model.scheduler.step_size=3"]
    model = build_model(compose("train", overrides).model, SHAPES)
    configured = model.configure_optimizers()
    assert isinstance(configured["optimizer"], torch.optim.SGD)
    assert configured["optimizer"].defaults["momentum"] == 0.9
    assert isinstance(configured["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)


def test_physics_baselines_have_nothing_to_train():
    assert not ConstantVelocity(SHAPES).is_trainable
    assert not MajorityClass(SHAPES).is_trainable


def test_a_checkpoint_of_another_model_version_is_refused_with_its_path(tmp_path):
    batch = make_batch()
    saved = tmp_path / "old.ckpt"
    torch.save({"state_dict": model_for("mlp", batch).state_dict()}, saved)
    flat_mlp = build_model(compose("train", ["model=mlp", "model.neighbour_pooling=flat"]).model, SHAPES)
    with pytest.raises(DrivelabError, match="old.ckpt does not fit ResidualMLP"):
        load_weights(flat_mlp, saved)
    load_weights(model_for("mlp", batch), saved)  # the same configuration loads
