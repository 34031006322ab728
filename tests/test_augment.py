"""Training-time augmentations: shapes, masks and labels preserved; mirroring and time shift checked against windows
built from a mirrored road and from an earlier present; seeded, composable, applied to training batches only."""

import numpy as np
import pytest
import torch

from drivelab.data.windows.augment import Augmenter, mirror_lateral, neighbour_dropout, positional_noise, time_shift
from drivelab.data.windows.extract import make_windows
from drivelab.errors import DrivelabError
from track_tables import platoon
from window_specs import default_spec

SPEC = default_spec(stride_s=0.2)  # a window at every step, so a shifted window can be compared with a stored one
TRANSFORMS = {
    "mirror": lambda batch, g: mirror_lateral(batch, generator=g, probability=0.5),
    "noise": lambda batch, g: positional_noise(batch, generator=g, std_m=0.3, velocity_std_mps=0.2),
    "dropout": lambda batch, g: neighbour_dropout(batch, generator=g, rate=0.5),
    "shift": lambda batch, g: time_shift(batch, generator=g, max_shift_steps=3, sample_hz=SPEC.sample_hz),
}


def as_batch(windows):
    return {name: torch.from_numpy(array) for name, array in windows.items()}


@pytest.fixture(scope="module")
def windows():
    return make_windows(platoon("rec", lanes=3, change_left_at_s=9.0), SPEC)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_every_transform_keeps_keys_shapes_and_dtypes_and_leaves_its_input_alone(windows, name):
    batch = as_batch(windows)
    before = {key: value.clone() for key, value in batch.items()}
    out = TRANSFORMS[name](batch, torch.Generator().manual_seed(0))
    assert set(out) == set(batch)
    for key in batch:
        assert out[key].shape == batch[key].shape and out[key].dtype == batch[key].dtype, key
        assert torch.equal(batch[key], before[key]), f"{name} modified its input {key}"
    assert not torch.equal(out["history"], batch["history"]) or name == "dropout"


@pytest.mark.parametrize("name", TRANSFORMS)
def test_absent_neighbours_stay_zero_and_labels_stay_valid(windows, name):
    out = TRANSFORMS[name](as_batch(windows), torch.Generator().manual_seed(1))
    assert (out["neighbours"][~out["neighbour_mask"]] == 0).all()
    assert torch.isfinite(out["history"]).all() and torch.isfinite(out["future"]).all()
    assert set(out["intention"].unique().tolist()) <= {0, 1, 2}
    if name != "shift":
        assert (out["neighbour_mask"] <= torch.from_numpy(windows["neighbour_mask"])).all()  # never invents one
        assert torch.equal(out["lane_change"], torch.from_numpy(windows["lane_change"]))


def mirrored_road(table):
    lanes = int(table["lane"].max()) + 1
    return table.assign(y_m=-table["y_m"], vy_mps=-table["vy_mps"], ay_mps2=-table["ay_mps2"],
                        lane=(lanes - 1 - table["lane"]).astype(table["lane"].dtype))


def test_mirroring_a_batch_equals_the_windows_of_the_mirrored_road():
    road = platoon("rec", lanes=3, change_left_at_s=9.0)
    original, mirrored = make_windows(road, SPEC), make_windows(mirrored_road(road), SPEC)
    assert (original["intention"] == 1).any()  # a left change, which the mirror turns into a right one
    out = mirror_lateral(as_batch(original))
    for key in mirrored:
        np.testing.assert_array_equal(out[key].numpy(), mirrored[key], err_msg=key)
    assert torch.equal(out["intention"] == 2, torch.from_numpy(original["intention"] == 1))


def test_mirroring_twice_gives_the_batch_back(windows):
    batch = as_batch(windows)
    twice = mirror_lateral(mirror_lateral(batch))
    assert all(torch.equal(twice[key], batch[key]) for key in batch)


def by_present_position(neighbours):
    """Neighbour slots in a fixed order (by present position), as equally near vehicles may swap slots."""
    key = neighbours[:, :, -1, 0] * 1000 + neighbours[:, :, -1, 1]
    return np.take_along_axis(neighbours, np.argsort(key, axis=1)[:, :, None, None], axis=1)


def test_time_shift_gives_the_window_stored_one_step_earlier(windows):
    shifted = {key: value.numpy() for key, value in time_shift(as_batch(windows), max_shift_steps=1, sample_hz=5).items()}
    stored = {(int(t), int(f)): i for i, (t, f) in enumerate(zip(windows["track_id"], windows["frame"]))}
    frames_per_step = 2  # 10 Hz tracks, 5 Hz windows
    keys = [(int(t), int(f)) for t, f in zip(windows["track_id"], windows["frame"])]
    pairs = [(i, stored[(t, f - frames_per_step)]) for i, (t, f) in enumerate(keys) if (t, f - frames_per_step) in stored]
    now, earlier = map(np.array, zip(*pairs))
    np.testing.assert_allclose(shifted["future"][now], windows["future"][earlier], atol=1e-4)
    # the first history point lies before the stored window: it is extrapolated, so compare from the second on
    np.testing.assert_allclose(shifted["history"][now, 1:], windows["history"][earlier, 1:], atol=1e-4)
    np.testing.assert_array_equal(shifted["lane"][now, 1:], windows["lane"][earlier, 1:])
    np.testing.assert_array_equal(shifted["intention"][now], windows["intention"][earlier])
    np.testing.assert_array_equal(shifted["lane_change"][now], windows["lane_change"][earlier])
    assert (shifted["intention"][now] != windows["intention"][now]).any()  # labels were recomputed, not copied
    np.testing.assert_allclose(by_present_position(shifted["neighbours"][now])[:, :, 1:],
                               by_present_position(windows["neighbours"][earlier])[:, :, 1:], atol=1e-4)
    assert not shifted["neighbour_mask"][:, :, 0].any()  # nothing is known of neighbours before the stored window


def test_positional_noise_moves_observed_positions_only(windows):
    batch = as_batch(windows)
    out = positional_noise(batch, generator=torch.Generator().manual_seed(0), std_m=0.5)
    moved = (out["history"] - batch["history"])[:, :-1, :2]
    assert moved.std().item() == pytest.approx(0.5, rel=0.05)
    assert (out["history"][:, -1, :2] == 0).all()  # the present defines the frame
    assert torch.equal(out["history"][..., 2:], batch["history"][..., 2:])
    assert torch.equal(out["future"], batch["future"])


def test_positional_noise_scales_positions_and_speeds_of_present_neighbours_separately(windows):
    batch = as_batch(windows)
    out = positional_noise(batch, generator=torch.Generator().manual_seed(0), std_m=0.5, velocity_std_mps=0.05)
    moved = out["neighbours"] - batch["neighbours"]
    present = batch["neighbour_mask"]
    assert moved[present][:, :2].std().item() == pytest.approx(0.5, rel=0.05)
    assert moved[present][:, 2:].std().item() == pytest.approx(0.05, rel=0.05)
    assert (out["neighbours"][~present] == 0).all()  # absent slots stay empty
    assert (out["history"] - batch["history"])[:, :, 2:].std().item() == pytest.approx(0.05, rel=0.1)


def test_neighbour_dropout_hides_about_the_configured_share(windows):
    batch = as_batch(windows)
    out = neighbour_dropout(batch, generator=torch.Generator().manual_seed(0), rate=0.3)
    present_before = batch["neighbour_mask"].any(dim=-1).sum().item()
    present_after = out["neighbour_mask"].any(dim=-1).sum().item()
    assert 1 - present_after / present_before == pytest.approx(0.3, abs=0.05)


def test_probability_is_the_share_of_windows_transformed(windows):
    batch = as_batch(windows)
    out = mirror_lateral(batch, generator=torch.Generator().manual_seed(0), probability=0.5)
    full = mirror_lateral(batch)
    chosen = (out["neighbours"] != batch["neighbours"]).flatten(1).any(dim=1)  # neighbours in other lanes: y != 0
    assert chosen.float().mean().item() == pytest.approx(0.5, abs=0.08)
    for key in batch:  # each window is either untouched or mirrored whole
        assert torch.equal(out[key][chosen], full[key][chosen]) and torch.equal(out[key][~chosen], batch[key][~chosen])
    none = mirror_lateral(batch, generator=torch.Generator().manual_seed(0), probability=0.0)
    assert all(torch.equal(none[key], batch[key]) for key in batch)


def test_augmenter_is_reproducible_for_a_seed_and_differs_across_seeds(windows):
    transforms = {"noise": lambda batch, generator: positional_noise(batch, generator=generator)}
    runs = [Augmenter(transforms, seed=seed)(as_batch(windows))["history"] for seed in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_unknown_lanes_stay_unknown_when_mirrored_or_shifted(windows):
    batch = as_batch(windows)
    batch["lane"] = torch.full_like(batch["lane"], -1)
    batch["lane_count"] = torch.zeros_like(batch["lane_count"])
    batch["intention"] = torch.full_like(batch["intention"], -1)
    batch["lane_change"] = torch.zeros_like(batch["lane_change"])
    for out in (mirror_lateral(batch), time_shift(batch, torch.Generator().manual_seed(0), max_shift_steps=3,
                                                  sample_hz=SPEC.sample_hz)):
        assert (out["lane"] == -1).all() and (out["intention"] == -1).all() and not out["lane_change"].any()


def test_a_config_entry_becomes_a_transform_and_unsafe_targets_are_refused(windows):
    augmenter = Augmenter({"drop_all": {"_target_": "drivelab.data.windows.augment.neighbour_dropout", "rate": 1.0},
                           "shift": {"_target_": "drivelab.data.windows.augment.time_shift"}}, spec={"sample_hz": 5})
    out = augmenter(as_batch(windows))
    assert not out["neighbour_mask"].any()
    with pytest.raises(DrivelabError, match="not a configurable object"):
        Augmenter({"evil": {"_target_": "os.system"}})
    with pytest.raises(DrivelabError, match="probability=2"):
        Augmenter({"mirror": {"_target_": "drivelab.data.windows.augment.mirror_lateral", "probability": 2}})


def test_augment_options_compose_and_reach_training_batches_only(tmp_path):
    from drivelab.config.registry import instantiate
    from drivelab.data.windows.build import build
    from drivelab.config.validate import compose
    from track_tables import write_platoons

    write_platoons(tmp_path, 4, change_left_at_s=9.0)
    build(tmp_path / "tracks", tmp_path / "windows", SPEC, {"val_fraction": 0.25, "test_fraction": 0.25, "seed": 0},
          1 << 27, 1)
    cfg = compose("train", ["augment=[mirror,noise]", f"paths.data_dir={tmp_path}", "data.augment.mirror.probability=1"])
    assert list(cfg.data.augment) == ["mirror", "noise"]
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    assert [name for name, _ in datamodule.augmenter.transforms] == ["mirror", "noise"]
    train = datamodule.train_dataloader()
    raw = train.dataset.__getitems__(range(len(train.dataset)))
    augmented = train.collate_fn(train.dataset.__getitems__(range(len(train.dataset))))
    assert torch.equal(augmented["future"], raw["future"] * torch.tensor([1.0, -1.0]))  # mirrored, noise-free labels
    assert not torch.equal(augmented["history"][:, :-1, :2], raw["history"][:, :-1, :2] * torch.tensor([1.0, -1.0]))
    val = datamodule.val_dataloader()
    assert val.collate_fn is not datamodule.augmenter
    batch = next(iter(val))
    assert torch.equal(batch["history"], val.dataset.__getitems__(range(len(batch["history"])))["history"])
