"""What a run prints: its directory, progress, the user's own warnings and the metrics; the libraries' chatter goes
to train.log only, and `-v` brings it back to the terminal."""

from __future__ import annotations

import logging

import pytest

from conftest import cli_env, drivelab
from drivelab import console
from drivelab.errors import ConfigError

TINY = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false"]


@pytest.mark.parametrize("line", [
    "GPU available: False, used: False",
    "💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]",
    "`Trainer(limit_val_batches=1.0)` was configured so 100% of the batches will be used..",
    "`Trainer.fit` stopped: `max_epochs=1` reached.",
    "/site-packages/pytorch_lightning/utilities/_pytree.py:21: `isinstance(treespec, LeafSpec)` is deprecated",
    "The number of training batches (15) is smaller than the logging interval Trainer(log_every_n_steps=20).",
])
def test_library_chatter_is_dropped_from_the_console(line):
    record = logging.LogRecord("pytorch_lightning", logging.INFO, __file__, 1, line, None, None)
    assert not console.DropNoise().filter(record)


@pytest.mark.parametrize("line", [
    "`Trainer(limit_val_batches=0.5)` was configured so 50% of the batches will be used..",  # the user's own setting
    "data/windows: 3 windows in the test split; metrics will be noisy",
])
def test_lines_about_the_users_own_settings_stay(line):
    record = logging.LogRecord("drivelab", logging.WARNING, __file__, 1, line, None, None)
    assert console.DropNoise().filter(record)


def test_counted_nouns_read_as_written():
    assert [console.counted(n, "recording") for n in (0, 1, 2)] == ["0 recordings", "1 recording", "2 recordings"]


def test_the_progress_bar_leaves_out_the_logger_version(monkeypatch):
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)

    class Bar:
        def get_metrics(self, trainer, pl_module):
            return {"v_num": "e1_0", "train/loss": 0.5}

    bar = Bar()
    console.hide_run_version(bar)
    assert bar.get_metrics(None, None) == {"train/loss": 0.5}


def test_a_bad_thread_count_is_one_line_naming_the_variable(monkeypatch):
    import torch  # the setting applies once a command has imported torch

    before = torch.get_num_threads()

    monkeypatch.setenv(console.THREADS_ENV, "many")
    with pytest.raises(ConfigError, match="DRIVELAB_THREADS='many': expected a whole number"):
        console.use_thread_setting()
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_a_training_run_prints_what_the_user_needs_and_logs_the_rest(sim_data_dir, tmp_path):
    env = cli_env()
    env.pop("WANDB_SILENT", None)  # drivelab keeps W&B quiet itself
    quiet = drivelab("train", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={tmp_path / 'quiet'}", *TINY, env=env)
    output = quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines()[0] == f"run directory: {tmp_path / 'quiet'}"
    assert "test: rmse_1s" in quiet.stdout
    for chatter in ("GPU available", "Tip:", "was configured so 100%", "LeafSpec", "wandb:", "v_num"):
        assert chatter not in output, chatter
    log = (tmp_path / "quiet" / "train.log").read_text()
    assert "GPU available" in log and "LeafSpec" in log  # kept where a person can look it up

    loud = drivelab("-v", "train", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={tmp_path / 'loud'}", *TINY,
                    env=env)
    assert "GPU available" in loud.stdout + loud.stderr
    also_loud = drivelab("train", f"paths.data_dir={sim_data_dir}", f"hydra.run.dir={tmp_path / 'key'}", *TINY,
                         "verbose=true", env=env)
    assert "GPU available" in also_loud.stdout + also_loud.stderr
