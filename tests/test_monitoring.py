"""Training health, the stall watchdog, the NaN guard and the profiler window, on tiny real Lightning runs; the NaN
guard and the default callbacks also through the real CLI."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from conftest import TRAIN_OVERRIDES, drivelab, read_json

pl = pytest.importorskip("pytorch_lightning")

from drivelab.monitoring.health import TrainingHealth  # noqa: E402
from drivelab.monitoring.nan_guard import NanGuard, NonFiniteTrainingError  # noqa: E402
from drivelab.monitoring.profile import ProfileWindow  # noqa: E402

BATCH = 32


class Windows(Dataset):
    """Batches shaped like drivelab's (a dict with recording and vehicle ids); `fetch_s` slows every batch down and
    `poison_batch` puts a NaN into one window of that batch."""

    def __init__(self, batches: int = 40, fetch_s: float = 0.0, poison_batch: int = -1) -> None:
        generator = torch.Generator().manual_seed(0)
        self.history = torch.randn(batches * BATCH, 8, generator=generator)
        self.fetch_s, self.poison_batch = fetch_s, poison_batch

    def __len__(self) -> int:
        return len(self.history)

    def __getitems__(self, indices):
        if self.fetch_s:
            time.sleep(self.fetch_s)  # the deliberately slow loader
        index = torch.as_tensor(indices)
        history = self.history[index].clone()
        if int(index[0]) // BATCH == self.poison_batch:
            history[3, 2] = float("nan")
        return {"history": history, "recording": torch.full((len(index),), 1), "track_id": index + 100}


class Regressor(pl.LightningModule):
    def __init__(self, step_s: float = 0.0, stall_at_step: int = -1, stall_released: threading.Event = None) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)
        self.step_s, self.stall_at_step, self.stall_released = step_s, stall_at_step, stall_released

    def forward(self, batch):
        return self.layer(batch["history"])

    def training_step(self, batch, batch_idx):
        if self.step_s:
            time.sleep(self.step_s)  # a step with real work to do
        if self.global_step == self.stall_at_step:
            stalled_step_waits_here(self.stall_released)
        return self(batch).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def stalled_step_waits_here(released: threading.Event) -> None:
    assert released.wait(timeout=60), "the watchdog never reported the stall"


def fit(tmp_path, model, dataset, callbacks, max_steps=20, checkpoint=False):
    trainer = pl.Trainer(default_root_dir=str(tmp_path), max_steps=max_steps, logger=pl.loggers.CSVLogger(tmp_path),
                         callbacks=callbacks, enable_checkpointing=checkpoint, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    loader = DataLoader(dataset, batch_size=BATCH, collate_fn=lambda batch: batch)
    trainer.fit(model, train_dataloaders=loader)
    return trainer


def test_a_slow_data_loader_is_reported_data_bound(tmp_path):
    health = TrainingHealth(every_n_steps=5, stall_after_s=0)
    fit(tmp_path, Regressor(step_s=0.002), Windows(fetch_s=0.03), [health])
    report = read_json(tmp_path / "health.json")
    assert report["verdict"].startswith("data-bound: "), report["verdict"]
    assert "data.num_workers" in report["verdict"]
    assert report["summary"]["data_wait_share"] > 0.5


def test_a_fast_data_loader_is_healthy_with_plausible_figures(tmp_path):
    health = TrainingHealth(every_n_steps=5, stall_after_s=0)
    fit(tmp_path, Regressor(step_s=0.02), Windows(), [health])
    report = read_json(tmp_path / "health.json")
    assert report["verdict"].startswith("healthy"), report["verdict"]
    summary = report["summary"]
    assert summary["data_wait_share"] < 0.2
    assert summary["steps"] == 20 and summary["samples"] == 20 * BATCH
    assert 0 < summary["samples_per_s"] < BATCH / 0.02  # no faster than the step's own work allows
    assert 20 <= summary["step_ms_p50"] <= summary["step_ms_p99"]
    rows = report["history"]
    assert [row["step"] for row in rows] == [5, 10, 15, 20]
    assert all(row["rss_anon_mb"] > 0 and row["rss_file_mb"] > 0 and row["cpu_utilisation"] >= 0 for row in rows)
    assert all(row["grad_norm"] >= row["grad_norm_max"] > 0 and row["grad_norm_max_param"].startswith("layer.")
               for row in rows)
    assert (tmp_path / "health.png").stat().st_size > 1000
    logged = next(tmp_path.glob("lightning_logs/*/metrics.csv")).read_text().splitlines()[0].split(",")
    assert {"health/samples_per_s", "health/data_wait_share", "health/rss_anon_mb", "health/grad_norm"} <= set(logged)


def test_the_watchdog_names_what_the_main_thread_is_doing_when_a_step_stalls(tmp_path, caplog):
    released = threading.Event()
    health = TrainingHealth(every_n_steps=5, stall_after_s=0.3)
    report_stall = health.watchdog.on_stall

    def on_stall(record):
        report_stall(record)
        released.set()

    health.watchdog.on_stall = on_stall
    with caplog.at_level(logging.WARNING, logger="drivelab.monitoring.watchdog"):
        fit(tmp_path, Regressor(stall_at_step=3, stall_released=released), Windows(), [health], max_steps=6)
    assert len(health.stalls) == 1 and health.stalls[0]["step"] == 3
    assert "stalled_step_waits_here" in health.stalls[0]["where"]
    assert "stalled_step_waits_here" in caplog.text and "stall_after_s" in caplog.text
    assert read_json(tmp_path / "health.json")["verdict"].startswith("stalled: no training step")


def test_the_nan_guard_names_the_window_with_a_non_finite_input_and_the_first_bad_gradient(tmp_path):
    guard, health = NanGuard(), TrainingHealth(every_n_steps=5, stall_after_s=0)
    model = Regressor()
    with pytest.raises(NonFiniteTrainingError) as raised:
        fit(tmp_path, model, Windows(poison_batch=7), [guard, health])
    message = str(raised.value)
    assert message.startswith("non-finite loss (nan) at step 7 (epoch 0, batch 7)")
    assert "non-finite inputs: recording 1 vehicle 327" in message  # window 3 of batch 7
    assert "first non-finite gradient: layer.weight" in message
    assert torch.isfinite(model.layer.weight).all(), "the optimizer never applied the bad step"
    record = read_json(tmp_path / "non_finite.json")
    assert record["windows"]["all"] == ["recording 1 vehicle 327"] and record["step"] == 7
    assert read_json(tmp_path / "health.json")["verdict"].startswith("non-finite: ")


def test_the_profile_window_writes_a_trace_and_a_table_of_top_operators(tmp_path):
    fit(tmp_path, Regressor(), Windows(), [ProfileWindow(skip_steps=2, active_steps=3, top_ops=10)], max_steps=8)
    trace = json.loads((tmp_path / "profile" / "trace.json").read_text())
    assert trace["traceEvents"]
    table = (tmp_path / "profile" / "top_ops.txt").read_text()
    assert table.startswith("steps 2..5 (3 steps)") and "aten::" in table


def test_nan_injection_from_the_cli_stops_non_zero_naming_step_and_parameter_and_keeps_the_checkpoint(
        sim_data_dir, tmp_path):
    run_dir = tmp_path / "nan"
    done = drivelab("train", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={run_dir}", *TRAIN_OVERRIDES,
                    "trainer.max_epochs=3", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2",
                    "logger=csv", "fault.nan_at_step=9", check=False)
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("drivelab train: error: non-finite loss (nan) at step 9 (epoch 2, batch 1)")
    assert "first non-finite gradient: " in error and "[injected by fault.nan_at_step]" in error
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "failed" and manifest["error"].startswith("NonFiniteTrainingError: ")
    assert manifest["non_finite"]["step"] == 9
    kept = manifest["non_finite"]["last_good_checkpoint"]
    assert kept and kept.endswith("last.ckpt")
    state = torch.load(kept, map_location="cpu", weights_only=True)
    assert state["global_step"] == 8
    assert all(torch.isfinite(value).all() for value in state["state_dict"].values() if value.is_floating_point())
    explained = drivelab("doctor", f"run_dir={run_dir}", check=False)
    assert explained.returncode == 1
    assert "non-finite loss (nan) at step 9" in next(line for line in explained.stdout.splitlines()
                                                     if "non-finite  " in line)


def test_a_default_training_run_writes_its_health_report(trained_run):
    report = read_json(trained_run / "health.json")
    assert report["status"] == "completed" and report["verdict"]
    assert report["summary"]["samples_per_s"] > 0 and report["history"]
    assert set(report["data_flow"]) == {"ingest", "clean", "windows"}
    assert (trained_run / "health.png").is_file()


def test_data_stages_record_throughput_and_peak_memory(sim_data_dir):
    for stage in ("ingest", "clean", "windows"):
        record = read_json(sim_data_dir / "flow" / f"{stage}.json")
        assert record["rows_per_s"] > 0 and record["peak_rss_mb"] > 0, stage
    assert read_json(sim_data_dir / "flow" / "windows.json")["windows_per_s"] > 0


@pytest.mark.parametrize("override", ["callbacks.training_health.every_n_steps=0", "fault.nan_at_step=-1",
                                      "callbacks.training_health.data_bound_share=1.5"])
def test_monitoring_settings_out_of_range_are_refused_before_anything_is_written(override, tmp_path):
    done = drivelab("train", override, f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert done.returncode == 2 and "is out of range" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run").exists()
