"""Distributed training to trust: under DDP every window is seen once per epoch across ranks, in the same global
batches as one process, so a 2-process run reaches the single-process result; test metrics are exact."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf
from pytorch_lightning.utilities.data import _update_dataloader
from torch.utils.data import DataLoader, DistributedSampler, SequentialSampler

from conftest import drivelab, read_json
from drivelab.data.windows.sampling import ShuffledOrder, WindowBatches

WINDOWS = list(range(1001))  # not a multiple of anything below: the last batches are short


def rank_batches(length: int, batch_size: int, ranks: int, shuffle: bool = True, epoch: int = 0, seed: int = 5):
    """What each rank's loader yields, built the way Lightning builds it: its DistributedSampler put into ours."""
    loaders = []
    for rank in range(ranks):
        loader = DataLoader(list(range(length)), batch_sampler=WindowBatches(
            ShuffledOrder(list(range(length)), seed=seed) if shuffle else SequentialSampler(list(range(length))),
            batch_size))
        sampler = DistributedSampler(list(range(length)), num_replicas=ranks, rank=rank, shuffle=shuffle, seed=seed)
        sampler.set_epoch(epoch)
        loaders.append(_update_dataloader(loader, sampler))
    return [list(loader.batch_sampler) for loader in loaders]


@pytest.mark.parametrize("shuffle", [True, False], ids=["train", "eval"])
def test_every_window_is_seen_exactly_once_per_epoch_across_ranks(shuffle):
    for epoch in (0, 1):
        per_rank = rank_batches(len(WINDOWS), 64, ranks=2, shuffle=shuffle, epoch=epoch)
        assert len(per_rank[0]) == len(per_rank[1])  # ranks step together: no rank waits for a missing batch
        seen = np.concatenate([batch for batches in per_rank for batch in batches])
        assert sorted(seen.tolist()) == WINDOWS  # once each: no padded duplicates, none dropped
        assert all(len(batch) > 0 for batches in per_rank for batch in batches)


def test_ranks_share_the_global_batches_of_one_process_with_the_same_global_batch_size():
    single = ShuffledOrder(WINDOWS, seed=5)
    single.set_epoch(1)
    one_process = list(WindowBatches(single, 128))
    two_ranks = rank_batches(len(WINDOWS), 64, ranks=2, epoch=1)
    assert len(one_process) == len(two_ranks[0])
    for whole, first, second in zip(one_process, *two_ranks):
        assert sorted(whole.tolist()) == sorted(np.concatenate([first, second]).tolist())


def test_epochs_are_shuffled_differently_and_reproducibly():
    order = ShuffledOrder(WINDOWS, seed=5)
    first = np.concatenate(list(WindowBatches(order, 256)))
    order.set_epoch(1)
    second = np.concatenate(list(WindowBatches(order, 256)))
    assert not np.array_equal(first, second)
    order.set_epoch(0)
    assert np.array_equal(first, np.concatenate(list(WindowBatches(order, 256))))


def test_a_last_global_batch_smaller_than_the_ranks_joins_the_one_before():
    per_rank = rank_batches(129, 32, ranks=2, shuffle=False)  # 2 x 64 windows, then 1 left over
    assert [len(batch) for batch in per_rank[0]] == [32, 33] and [len(batch) for batch in per_rank[1]] == [32, 32]


DDP_TOLERANCE = 1e-3  # relative: float summation order differs between one process and an all-reduce of two


def test_two_process_ddp_reaches_the_single_process_result_with_one_run_directory(sim_data_dir, tmp_path):
    common = ["model=mlp", "model.dropout=0.0", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
              "trainer.enable_model_summary=false", "report_plots=false", f"paths.data_dir={sim_data_dir}"]
    drivelab("train", *common, "data.batch_size=128", f"hydra.run.dir={tmp_path / 'single'}")
    drivelab("train", *common, "trainer=ddp", "trainer.devices=2", "data.batch_size=64",  # the same global batch
             f"paths.runs_dir={tmp_path / 'ddp'}")
    [run_dir] = [path.parent for path in (tmp_path / "ddp").rglob("manifest.json")]
    single, ddp = read_json(tmp_path / "single" / "metrics.json"), read_json(run_dir / "metrics.json")
    assert single.keys() == ddp.keys()
    print("largest relative difference, DDP vs one process:", max(abs(ddp[k] - v) / abs(v) for k, v in single.items()))
    for name, value in single.items():
        assert ddp[name] == pytest.approx(value, rel=DDP_TOLERANCE), name
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "completed" and manifest["global_step"] == read_json(
        tmp_path / "single" / "manifest.json")["global_step"]  # ranks stepped through the same global batches
    assert len(list((tmp_path / "ddp").glob("*/*"))) == 1  # one run directory for both ranks
    assert len(list(run_dir.glob("logs/wandb/offline-run-*"))) == 1  # one W&B run

    # The DDP test metrics (each rank half the test windows, metrics reduced across ranks) equal one process
    # evaluating the same checkpoint alone: no window counted twice.
    from drivelab import runs

    opened = runs.open_run(run_dir)
    alone, _, _ = runs.test(opened.config, opened.best_checkpoint)
    for name, value in alone.items():
        assert ddp[name] == pytest.approx(value, rel=1e-5), name


def test_bf16_mixed_precision_and_compile_switches_train_on_cpu(sim_data_dir, tmp_path):
    for name, switch in (("bf16", "trainer.precision=bf16-mixed"), ("compiled", "model.compile=true")):
        drivelab("train", "debug=fast", "model=mlp", switch, f"paths.data_dir={sim_data_dir}",
                 f"hydra.run.dir={tmp_path / name}")
        metrics = read_json(tmp_path / name / "metrics.json")
        assert all(np.isfinite(value) for value in metrics.values()) and "test/rmse_5s" in metrics
    assert OmegaConf.load(tmp_path / "bf16" / "config.yaml").trainer.precision == "bf16-mixed"
    assert OmegaConf.load(tmp_path / "compiled" / "config.yaml").model.compile is True
