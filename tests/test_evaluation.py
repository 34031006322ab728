"""Evaluation a researcher can act on: slices, slice metrics, plots, and tables that compare runs."""

import json
import shutil

import pytest
import torch

from conftest import drivelab, read_json
from drivelab.evaluation.report import write_report
from drivelab.evaluation.results import KeepTop
from drivelab.evaluation.slices import slice_masks
from drivelab.metrics import trajectory_errors
from drivelab.models.physics import ConstantVelocity

SHAPES = {"history_steps": 16, "future_steps": 25, "max_neighbours": 4, "sample_hz": 5,
          "features": ["x_m", "y_m", "vx_mps", "vy_mps"],
          "normalisation": {"history_mean": [0, 0, 0, 0], "history_std": [1, 1, 1, 1], "residual_std": [1, 1]}}
FUTURE_S = torch.arange(1, 26) / 5


def hand_made_batch() -> dict:
    """Eight windows at 20 m/s, each built for one slice question (see the comments)."""
    n = 8
    history = torch.zeros(n, 16, 4)
    history[..., 0] = 20.0 * torch.arange(-15, 1) / 5
    history[..., 2] = 20.0
    future = torch.zeros(n, 25, 2)
    future[..., 0] = 20.0 * FUTURE_S
    future[2, :, 0] = 20.0 * FUTURE_S - 2.0 * FUTURE_S**2  # 2: hard braking, 20 -> 0 m/s over 5 s
    future[3, :, 0] = 20.0 * FUTURE_S - 0.25 * FUTURE_S**2  # 3: mild slowing, never below 0.8 x 20 m/s
    future[1, :, 1] = torch.linspace(0.1, 3.5, 25)  # 1: drifts one lane to the left
    neighbours = torch.zeros(n, 4, 16, 4)
    mask = torch.zeros(n, 4, 16, dtype=torch.bool)
    mask[4] = True  # 4: four neighbours present: dense by count
    neighbours[4, :, :, 0] = torch.tensor([-30.0, -10.0, 15.0, 35.0])[:, None]
    neighbours[4, :, :, 1] = torch.tensor([3.5, -3.5, 3.5, -3.5])[:, None]
    mask[5, 0] = True  # 5: one car 20 m ahead in the own lane at 20 m/s: 1 s headway, dense
    neighbours[5, 0, :, :2] = torch.tensor([20.0, 0.5])
    mask[6, :2] = True  # 6: one 40 m ahead in lane (2 s) and one 10 m ahead in the next lane: free flow ...
    neighbours[6, 0, :, :2] = torch.tensor([40.0, 0.0])
    neighbours[6, 1, :, :2] = torch.tensor([10.0, 3.5])
    mask[6, 2:, :-1] = True  # ... and two more that left before the present (four then, two now)
    mask[7] = True  # 7: four neighbours now, but one of them 80 m behind (beyond the dense radius): free flow
    neighbours[7, 3, :, 0] = -80.0
    return {"history": history, "future": future, "neighbours": neighbours, "neighbour_mask": mask,
            "lane_change": torch.tensor([False, True, False, False, False, False, False, False]),
            "intention": torch.zeros(n, dtype=torch.int8), "track_id": torch.arange(n), "frame": torch.full((n,), 50),
            "recording": torch.ones(n, dtype=torch.int64)}


def test_slices_of_a_hand_made_batch():
    masks = slice_masks(hand_made_batch(), sample_hz=5)
    assert masks["all"].all()
    assert masks["lane_change"].tolist() == [False, True, False, False, False, False, False, False]
    assert (masks["lane_keep"] == ~masks["lane_change"]).all()
    assert masks["braking"].tolist() == [False, False, True, False, False, False, False, False]
    assert masks["dense"].tolist() == [False, False, False, False, True, True, False, False]
    assert (masks["free_flow"] == ~masks["dense"]).all()


def test_lane_slices_claim_nothing_where_lanes_are_unknown():
    batch = hand_made_batch()
    batch["lane"] = torch.ones(8, 41, dtype=torch.int8)
    batch["lane"][4:] = -1  # windows 4..7 come from a source without lanes
    masks = slice_masks(batch, sample_hz=5)
    assert masks["lane_change"].tolist() == [False, True] + [False] * 6
    assert masks["lane_keep"].tolist() == [True, False, True, True] + [False] * 4
    assert masks["all"].all()


def test_slice_metrics_are_the_metrics_of_the_slice_alone(tmp_path):
    batch = hand_made_batch()
    model = ConstantVelocity(SHAPES)
    batches = [{k: v[:5] for k, v in batch.items()}, {k: v[5:] for k, v in batch.items()}]  # order must not matter
    evaluation = write_report(model, batches, tmp_path, baseline=ConstantVelocity(SHAPES, lateral_speed=False))
    report = read_json(tmp_path / "slice_metrics.json")
    assert report["slices"]["all"]["count"] == 8 and report["slices"]["braking"]["count"] == 1
    prediction = model(batch)
    for name, mask in slice_masks(batch, 5).items():
        expected = trajectory_errors(prediction[mask], batch["future"][mask], 5)
        assert report["slices"][name]["model"] == pytest.approx(expected), name
    assert report["slices"]["all"]["baseline"]["rmse_5s"] == pytest.approx(report["slices"]["all"]["model"]["rmse_5s"])
    assert report["worst"][0]["track_id"] == 2  # the braking window is constant velocity's worst case
    assert evaluation.flat_metrics()["test_slices/dense/count"] == 2.0


def test_report_draws_both_plots(tmp_path):
    write_report(ConstantVelocity(SHAPES), [hand_made_batch()], tmp_path, baseline=ConstantVelocity(SHAPES))
    for name in ("error_vs_horizon.png", "sample_predictions.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_keep_top_keeps_the_highest_keys_across_batches():
    top = KeepTop(3)
    top.offer(torch.tensor([1.0, 9.0, 2.0]), {"id": torch.tensor([0, 1, 2])})
    top.offer(torch.tensor([5.0, 0.0, 7.0]), {"id": torch.tensor([3, 4, 5])})
    assert top.rows["id"].tolist() == [1, 5, 3]


@pytest.mark.slow
def test_training_writes_and_logs_slice_metrics_and_plots(trained_run):
    report = read_json(trained_run / "slice_metrics.json")
    slices = report["slices"]
    assert slices["lane_change"]["count"] + slices["lane_keep"]["count"] == slices["all"]["count"] > 0
    assert slices["dense"]["count"] + slices["free_flow"]["count"] == slices["all"]["count"]
    assert slices["all"]["model"]["rmse_5s"] == pytest.approx(read_json(trained_run / "metrics.json")["test/rmse_5s"])
    assert slices["all"]["baseline"]["rmse_5s"] > 0
    assert (trained_run / "plots" / "error_vs_horizon.png").is_file()
    assert (trained_run / "plots" / "sample_predictions.png").is_file()
    [csv] = list((trained_run / "logs" / "csv").rglob("metrics.csv"))
    assert "test_slices/lane_change/rmse_5s" in csv.read_text().splitlines()[0]


@pytest.mark.slow
def test_eval_compares_several_runs_in_one_table(trained_run, sim_data_dir, tmp_path):
    drivelab("train", "model=cv_no_lateral", "logger=csv", f"paths.data_dir={sim_data_dir}",
             f"hydra.run.dir={tmp_path / 'cv_flat'}")
    done = drivelab("eval", f"run_dirs=[{trained_run},{tmp_path / 'cv_flat'}]", f"output_dir={tmp_path / 'out'}")
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert [line.split("|")[1].strip() for line in table[2:]] == [
        f"ResidualMLP ({trained_run.name})", "ConstantVelocity (cv_flat)", "cv"]
    assert done.stdout.count("RMSE@5s ratio") == 2
    comparison = read_json(tmp_path / "out" / "comparison.json")
    assert [run["metrics"]["test/rmse_5s"] for run in comparison["runs"]][0] == pytest.approx(
        read_json(trained_run / "metrics.json")["test/rmse_5s"])
    assert comparison["runs"][1]["slices"]["all"]["count"] > 0


@pytest.mark.slow
def test_eval_refuses_runs_on_different_data_versions(trained_run, sim_data_dir, tmp_path):
    other = tmp_path / "data"
    shutil.copytree(sim_data_dir / "windows", other / "windows")
    info = json.loads((other / "windows" / "windows.json").read_text())
    (other / "windows" / "windows.json").write_text(json.dumps(info, indent=1))  # same windows, another version
    drivelab("train", "model=cv", "logger=csv", f"paths.data_dir={other}", f"hydra.run.dir={tmp_path / 'cv'}")
    done = drivelab("eval", f"run_dirs=[{trained_run},{tmp_path / 'cv'}]", check=False)
    assert done.returncode == 2
    assert "different data versions" in done.stderr and "data_dir=" in done.stderr
