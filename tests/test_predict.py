"""Deployment-side replay: the production model's ONNX export through onnxruntime (no training code loaded) on a
windows version and on raw highD recordings, Parquet predictions with latency and throughput beside them, input
drift against the training data, and a shadow comparison that ranks a deliberately worse candidate worse."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from conftest import cli_env, read_json
from highd_files import Vehicle, write_recording
from registry_repo import copy_run, make_registry_repo, promote

pytestmark = pytest.mark.slow
TRAINING_CODE = ("pytorch_lightning", "lightning_fabric", "drivelab.models", "drivelab.runs")


@pytest.fixture(scope="module")
def served(sim_data_dir, trained_run, tmp_path_factory):
    """A registry whose prod model is the trained run and whose staging model is the same run with noisy weights."""
    root = tmp_path_factory.mktemp("served")
    repo = make_registry_repo(root, sim_data_dir / "windows")
    promote(repo, copy_run(trained_run, root / "runs" / "good"), "prod")
    promote(repo, copy_run(trained_run, root / "runs" / "worse", weight_noise=0.05), "staging",
            "gate.incumbent.tolerance=10")  # worse than production, deliberately
    return repo


def predict(repo, *args, check=True):
    """`drivelab predict` in-process of a fresh interpreter, reporting which modules it loaded."""
    code = ("import sys, json\nfrom drivelab.cli import main\ncode = 0\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit as exit:\n    code = exit.code or 0\n"
            f"print('MODULES=' + json.dumps(sorted(m for m in {TRAINING_CODE!r} if m in sys.modules)))\n"
            "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, "predict", f"paths.root_dir={repo}", *args], cwd=repo,
                          env=cli_env(), capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"predict exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def loaded_modules(done):
    return json.loads(done.stdout.rsplit("MODULES=", 1)[1].splitlines()[0])


def test_predict_replays_a_windows_version_with_onnxruntime_alone(served, sim_data_dir, tmp_path):
    output = tmp_path / "replay" / "predictions.parquet"
    done = predict(served, "model=trajectory@prod", f"input={sim_data_dir / 'windows'}", f"output={output}")
    assert loaded_modules(done) == []  # no training code in the loop
    info = json.loads((sim_data_dir / "windows" / "windows.json").read_text())
    windows = sum(split["windows"] for split in info["splits"].values())
    table = pq.read_table(output)
    assert table.num_rows == windows * info["spec"]["future_steps"]
    assert {"recording", "vehicle_id", "frame", "horizon_s", "x_m", "y_m", "true_x_m", "true_y_m",
            "error_m"} <= set(table.column_names)
    assert set(table.column("recording").to_pylist()) == set(info["recordings"])
    report = read_json(output.with_name("predictions.report.json"))
    assert report["model"]["reference"] == "trajectory@v0.0.1" and report["windows"] == windows
    assert report["throughput_windows_per_s"] > 0
    latency = report["latency"]["model"]
    assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"]
    assert "windows/s" in done.stdout and "p99" in done.stdout
    assert report["drift"]["checked"] and report["drift"]["shifted"] == []  # the training data itself
    assert "drift: no feature shifted" in done.stdout and "WARNING" not in done.stdout
    assert report["scores"]["model"]["rmse_5s"] > 0
    assert not list(output.parent.glob(".*.tmp"))  # written atomically: no leftover


def test_predict_from_raw_highd_recordings_warns_of_drift_and_fails_when_asked(served, tmp_path):
    # Constant-speed traffic at 38-42 m/s in a highD-format recording: faster and steadier than the simulated data.
    vehicles = [Vehicle(i + 1, direction=2, centre_x=20.0 + 30 * i, centre_y=24.0 if i % 2 else 28.0,
                        x_velocity=38.0 + i, last_frame=400) for i in range(6)]
    write_recording(tmp_path / "drive", 1, vehicles)
    output = tmp_path / "raw.parquet"
    done = predict(served, f"input={tmp_path / 'drive'}", f"output={output}")
    assert "WARNING: input drift" in done.stdout and "speed_mps" in done.stdout
    report = read_json(tmp_path / "raw.report.json")
    assert report["input"]["kind"] == "recordings" and report["input"]["recordings"] == 1
    assert "speed_mps" in report["drift"]["shifted"]
    assert (tmp_path / "raw.data" / "quarantine.parquet").is_file()  # cleaned as `drivelab prepare` cleans
    table = pq.read_table(output)
    assert set(table.column("recording").to_pylist()) == {"replay_01"}
    assert set(table.column("vehicle_id").to_pylist()) <= {v.id for v in vehicles}

    failing = tmp_path / "strict.parquet"
    done = predict(served, f"input={tmp_path / 'drive'}", f"output={failing}", "predict.on_drift=fail",
                   check=False)
    assert done.returncode == 2 and "input drift in" in done.stderr and "speed_mps" in done.stderr
    assert not failing.exists() and not list(tmp_path.glob(".strict.parquet.*"))


def test_shadow_ranks_a_deliberately_worse_candidate_worse(served, tmp_path):
    output = tmp_path / "shadow.parquet"
    done = predict(served, "model=trajectory@prod", "shadow=trajectory@staging", "input=HEAD", f"output={output}",
                   "predict.top_scenes=5")
    report = read_json(tmp_path / "shadow.report.json")
    shadow = report["shadow"]
    assert shadow["model"]["reference"] == "trajectory@v0.0.2" and report["input"]["kind"] == "windows"
    assert list(shadow["per_horizon"]) == ["1s", "2s", "3s", "4s", "5s"]
    assert all(row["p50_m"] <= row["p90_m"] <= row["p99_m"] <= row["max_m"] for row in shadow["per_horizon"].values())
    assert shadow["per_horizon"]["5s"]["mean_m"] > 0
    finals = [scene["final_m"] for scene in shadow["top_scenes"]]
    assert len(finals) == 5 and finals == sorted(finals, reverse=True)
    assert finals[0] == pytest.approx(shadow["per_horizon"]["5s"]["max_m"], abs=1e-3)
    assert report["scores"]["shadow"]["rmse_5s"] > report["scores"]["model"]["rmse_5s"]
    assert shadow["better_rmse_5s"] == "model" and "better RMSE@5s: model" in done.stdout
    assert "largest disagreement" in done.stdout and str(shadow["top_scenes"][0]["vehicle_id"]) in done.stdout
    assert (tmp_path / "shadow.shadow.png").stat().st_size > 0
