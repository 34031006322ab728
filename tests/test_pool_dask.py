"""Data preparation on a Dask cluster: simulate, ingest, clean and windows send their per-recording tasks to a real
local cluster of 2 worker processes and write the same bytes as one local process."""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import pytest
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin

from conftest import drivelab
from drivelab.pool import PoolSettings, run_tasks

pytestmark = pytest.mark.slow

SIMULATION = ["simulate.episodes=4", "simulate.duration_s=20", "simulate.vehicles=12"]
# Records of how long a stage took differ from run to run; everything else must be identical.
TIMED_FILES = {"tracks_raw/ingest.json", "flow/ingest.json", "flow/clean.json", "flow/windows.json",
               ".drivelab.lock.holder"}  # the data-folder lock's note names the process that held it


class FinishedTasks(SchedulerPlugin):
    """The names of the tasks the scheduler saw finish (a key is `<function name>-<id>`)."""

    name = "finished-tasks"

    def __init__(self) -> None:
        self.functions: Counter = Counter()

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory":
            self.functions[str(key).rsplit("-", 5)[0]] += 1


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        cluster.scheduler.add_plugin(FinishedTasks())
        yield cluster


@pytest.fixture(scope="module")
def scheduler_address(cluster):
    return cluster.scheduler_address


def _prepare(data_dir: Path, *pool: str) -> None:
    simulate_pool = [f"simulate.{p}".replace("simulate.backend=", "simulate.pool=") for p in pool]
    drivelab("simulate", f"paths.data_dir={data_dir}", *SIMULATION, *simulate_pool)
    drivelab("prepare", f"paths.data_dir={data_dir}", *[f"{stage}.{p}" for stage in ("clean", "windows") for p in pool])


def _files(data_dir: Path) -> dict:
    return {path.relative_to(data_dir).as_posix(): path.read_bytes()
            for path in sorted(data_dir.rglob("*")) if path.is_file()}


def test_every_stage_on_a_dask_cluster_writes_the_bytes_of_one_local_process(tmp_path, cluster, scheduler_address):
    # One data folder for both runs (the files record their source paths), the first moved aside.
    data_dir, local = tmp_path / "data", tmp_path / "local"
    _prepare(data_dir, "workers=1")
    data_dir.rename(local)
    _prepare(data_dir, "backend=dask", f"scheduler={scheduler_address}")

    local_files, cluster_files = _files(local), _files(data_dir)
    assert sorted(local_files) == sorted(cluster_files)
    assert any(name.startswith("raw/") for name in local_files) and any(name.startswith("windows/") for name in local_files)
    recordings = len([name for name in local_files if name.startswith("raw/") and name.endswith("_tracks.csv")])
    ran = cluster.scheduler.plugins[FinishedTasks.name].functions
    assert {ran[name] for name in ("simulate_recording", "ingest_shard", "clean_shard", "recording_parts")} == {recordings}
    changed = [name for name in local_files if name not in TIMED_FILES and local_files[name] != cluster_files[name]]
    assert changed == []


def _square_in_process(value: int) -> tuple:
    return value * value, os.getpid()


def test_cluster_results_come_back_in_task_order_from_the_worker_processes(scheduler_address):
    settings = PoolSettings(workers=2, backend="dask", scheduler=scheduler_address)
    results = list(run_tasks(_square_in_process, [(value,) for value in range(20)], settings))
    assert [square for square, _ in results] == [value * value for value in range(20)]
    assert os.getpid() not in {pid for _, pid in results}


def test_unknown_backend_is_refused_in_one_line_naming_the_key(tmp_path):
    done = drivelab("windows", f"paths.data_dir={tmp_path}", "windows.backend=spark", check=False)
    assert done.returncode != 0
    assert "windows.backend='spark'" in done.stderr and "local, dask" in done.stderr
    assert not (tmp_path / "windows").exists()


def test_a_scheduler_without_the_dask_backend_is_refused(tmp_path):
    done = drivelab("simulate", f"paths.data_dir={tmp_path}", "simulate.scheduler=tcp://127.0.0.1:8786", check=False)
    assert done.returncode != 0
    assert "simulate.pool=dask" in done.stderr
    assert not (tmp_path / "raw").exists()
