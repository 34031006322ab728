"""Export: every shipped model as ONNX and as a torch.export program, computing the PyTorch model's function at any
batch size; a trained run exported with its card; a model that cannot be deployed says why in one line."""

import json
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import drivelab, read_json
from drivelab.config.validate import compose
from drivelab.data.windows.store import open_split
from drivelab.export.bundle import export_model
from drivelab.export.checks import differences
from drivelab.export.interface import random_inputs
from drivelab.runs.builder import build_model

pytestmark = pytest.mark.slow

# Small windows keep each export to seconds; the graphs are the same as at full size.
SHAPES = {"history_steps": 6, "future_steps": 10, "max_neighbours": 3, "sample_hz": 5,
          "features": ["x_m", "y_m", "vx_mps", "vy_mps"],
          "normalisation": {"history_mean": [-20.0, 0.0, 25.0, 0.0], "history_std": [15.0, 1.0, 4.0, 0.5],
                            "residual_std": [2.0, 0.5]}}
SHIPPED = ["cv", "cv_no_lateral", "ca", "mlp", "gru", "lstm", "interaction", "multimodal", "intention_gru"]
PARITY_BATCHES = [1, 7, 256]


def settings(**latency):
    return OmegaConf.create({
        "formats": ["onnx", "pt2"],
        "parity": {"batch_sizes": PARITY_BATCHES, "test_windows": 256, "tolerance_m": 1e-5, "seed": 0},
        "latency": {"batch_sizes": [1], "warmup_calls": 1, "timed_calls": 3, "threads": 1, **latency}})


def shipped_model(option):
    return build_model(compose("train", [f"model={option}"]).model, SHAPES)


@pytest.mark.parametrize("option", SHIPPED)
def test_every_shipped_model_exports_and_matches_pytorch_at_any_batch_size(option, tmp_path):
    result = export_model(shipped_model(option), tmp_path / "export", settings())
    assert result.ok, result.problems
    for name in ("onnx", "pt2"):
        entry = result.card["formats"][name]
        assert (tmp_path / "export" / entry["file"]).is_file()
        assert sorted({case["batch"] for case in entry["parity"]["cases"]}) == PARITY_BATCHES
        assert entry["parity"]["within_tolerance"] and entry["parity"]["max_abs_diff"] < 1e-4
    names = [output["name"] for output in result.card["outputs"]]
    assert names == {"multimodal": ["positions", "mode_positions", "mode_probabilities"],
                     "intention_gru": ["logits", "probabilities"]}.get(option, ["positions"])


def test_a_model_that_reads_a_label_is_not_exported_and_says_why_in_one_line(tmp_path):
    model = shipped_model("intention_majority")
    model.count_classes(torch.tensor([0, 0, 1]))
    result = export_model(model, tmp_path / "export", settings())
    assert not result.ok and len(result.problems) == 2
    for problem in result.problems:
        assert "batch['intention']" in problem and "\n" not in problem
    card = read_json(tmp_path / "export" / "card.json")
    assert card["formats"]["onnx"]["file"] is None and "intention" in card["formats"]["onnx"]["error"]


def test_random_inputs_are_valid_windows():
    history, neighbours, mask, lane, lane_count = random_inputs(SHAPES, 64, torch.Generator().manual_seed(0))
    assert torch.equal(history[:, -1, :2], torch.zeros(64, 2))  # the present at the origin
    assert (neighbours[~mask] == 0).all() and mask.any() and (~mask).any()
    known = lane_count > 0
    assert ((lane[known] >= 0) & (lane[known] < lane_count[known, None])).all() and (lane[~known] == -1).all()


def test_export_refuses_to_replace_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="did not write"):
        export_model(shipped_model("cv"), tmp_path / "export", settings())
    assert (tmp_path / "export" / "notes.txt").read_text() == "mine"


def test_exported_run_runs_in_onnxruntime_alone_on_raw_test_windows(trained_run, sim_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    done = drivelab("export", f"run_dir={run_dir}", "export.latency.timed_calls=20", "export.latency.warmup_calls=2")
    assert "onnx: model.onnx" in done.stdout and "pt2: model.pt2" in done.stdout
    card = read_json(run_dir / "export" / "card.json")
    assert card["run"]["path"] == str(run_dir) and card["checkpoint"]["md5"]
    assert card["lineage"]["data_version"] == card["data_version"] and card["metrics"]["test/rmse_5s"] > 0
    assert card["normalisation"]["history_std"] and card["inputs"][0]["name"] == "history"
    for name in ("onnx", "pt2"):
        cases = card["formats"][name]["parity"]["cases"]
        assert {(case["inputs"], case["batch"]) for case in cases} >= {("test_windows", b) for b in PARITY_BATCHES}
        assert {result["batch"] for result in card["latency"][name]} == {1, 64}
    assert "p99 ms" in (run_dir / "export" / "card.md").read_text()

    # A consumer needs only onnxruntime and the raw window arrays (unnormalised, target-centric).
    import onnxruntime

    windows = json.loads((sim_data_dir / "windows" / "windows.json").read_text())
    test = open_split(sim_data_dir / "windows", "test").gather(np.arange(5))
    steps = windows["spec"]["history_steps"]
    feed = {"history": test["history"], "neighbours": test["neighbours"], "neighbour_mask": test["neighbour_mask"],
            "lane": np.ascontiguousarray(test["lane"][:, :steps]), "lane_count": test["lane_count"]}
    session = onnxruntime.InferenceSession(str(run_dir / "export" / "model.onnx"), providers=["CPUExecutionProvider"])
    (positions,) = session.run(None, feed)
    assert positions.shape == (5, windows["spec"]["future_steps"], 2)
    rmse_5s = np.sqrt(((positions[:, -1] - test["future"][:, -1]) ** 2).sum(-1).mean())
    assert rmse_5s < 20.0  # metres, not normalised units


def test_parity_allows_float32_rounding_in_proportion_to_the_value_and_no_more():
    far = np.array([200.0], np.float32)
    one_step = far + np.spacing(far)  # 1.5e-5 m: float32's resolution at 200 m
    difference_m, share = differences([far], [one_step], 1e-5)
    assert difference_m > 1e-5 and share < 1.0
    _, off = differences([far], [far + np.float32(0.01)], 1e-5)
    assert off > 1.0  # a centimetre is a real difference
    _, near = differences([np.array([1.0], np.float32)], [np.array([1.0 + 2e-5], np.float32)], 1e-5)
    assert near > 1.0  # close to the origin the absolute tolerance holds
