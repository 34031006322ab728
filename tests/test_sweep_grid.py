"""Grid sweeps (`drivelab train -m`): parallel jobs in reused worker processes, a summary table of every job, and the
submitit launchers a cluster uses (run here with submitit's local executor)."""

import csv
import re

import pytest
import yaml

from conftest import drivelab, read_json

pytestmark = pytest.mark.slow

QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=5", "data.batch_size=128", "logger=csv",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def sweep_dir_under(runs_dir):
    (sweep_dir,) = [path for path in (runs_dir / "multirun").glob("*/*") if path.is_dir()]
    return sweep_dir


@pytest.fixture(scope="module")
def parallel_grid(sim_data_dir, tmp_path_factory):
    """Three jobs on two joblib workers: the third job runs in a worker process that already ran one."""
    runs_dir = tmp_path_factory.mktemp("grid")
    done = drivelab("train", "-m", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={runs_dir}",
                    "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "model.hidden_size=16,24,32", *QUICK)
    return sweep_dir_under(runs_dir), done.stdout


def test_grid_runs_every_combination_as_a_full_run_directory(parallel_grid):
    sweep_dir, _ = parallel_grid
    sizes = []
    for job in ("0", "1", "2"):
        manifest = read_json(sweep_dir / job / "manifest.json")
        assert manifest["status"] == "completed" and manifest["data_version"]
        assert (sweep_dir / job / manifest["best_checkpoint"]).is_file()
        sizes.append(yaml.safe_load((sweep_dir / job / "config.yaml").read_text())["model"]["hidden_size"])
    assert sizes == [16, 24, 32]


def test_grid_runs_on_the_parallel_launcher_with_two_jobs_at_once(parallel_grid):
    sweep_dir, stdout = parallel_grid
    launcher = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]["launcher"]
    assert launcher["_target_"].endswith("JoblibLauncher") and launcher["n_jobs"] == 2
    assert re.search(r"Joblib\.Parallel\(n_jobs=2", stdout)


def test_summary_table_lists_every_jobs_choices_and_metrics(parallel_grid):
    sweep_dir, stdout = parallel_grid
    with open(sweep_dir / "summary.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["job"] for row in rows] == ["0", "1", "2"]
    assert [row["model.hidden_size"] for row in rows] == ["16", "24", "32"]
    for row in rows:
        metrics = read_json(sweep_dir / row["job"] / "metrics.json")
        assert float(row["test/rmse_5s"]) == pytest.approx(metrics["test/rmse_5s"])
        assert row["status"] == "completed"
    assert "| job | model.hidden_size | status | test/rmse_1s |" in stdout
    assert "trainer.max_epochs" not in rows[0]  # the same in every job: not a choice


def test_job_in_a_reused_parallel_worker_matches_the_same_job_run_alone(parallel_grid, sim_data_dir, tmp_path):
    sweep_dir, _ = parallel_grid
    overrides = yaml.safe_load((sweep_dir / "2" / ".hydra" / "overrides.yaml").read_text())
    drivelab("train", *overrides, f"hydra.run.dir={tmp_path / 'alone'}")
    alone, in_worker = read_json(tmp_path / "alone" / "metrics.json"), read_json(sweep_dir / "2" / "metrics.json")
    assert alone.keys() == in_worker.keys()
    for name in alone:
        assert in_worker[name] == pytest.approx(alone[name], abs=1e-6), name


def test_slurm_launcher_config_composes_for_a_cluster():
    done = drivelab("train", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra")
    launcher = yaml.safe_load(done.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] == "gpu" and launcher["timeout_min"] > 0 and launcher["array_parallelism"] > 0


def test_submitit_local_executor_runs_grid_jobs_with_a_summary(sim_data_dir, tmp_path):
    drivelab("train", "-m", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={tmp_path}",
             "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "seed=1,2", *QUICK)
    sweep_dir = sweep_dir_under(tmp_path)
    with open(sweep_dir / "summary.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["seed"] for row in rows] == ["1", "2"]
    assert all(row["status"] == "completed" and float(row["test/rmse_5s"]) > 0 for row in rows)
    assert list((sweep_dir / ".submitit").rglob("*_result.pkl"))


def test_summary_rows_keep_only_the_overrides_that_differ_between_jobs(tmp_path):
    from drivelab.sweep.multirun import job_rows

    for job, (size, rmse) in enumerate([(64, 2.0), (128, 1.5)]):
        (tmp_path / str(job) / ".hydra").mkdir(parents=True)
        (tmp_path / str(job) / ".hydra" / "overrides.yaml").write_text(
            f"- model=mlp\n- model.hidden_size={size}\n- trainer.max_epochs=3\n")
        (tmp_path / str(job) / "manifest.json").write_text('{"status": "completed"}')
        (tmp_path / str(job) / "metrics.json").write_text(f'{{"test/rmse_5s": {rmse}}}')
    (tmp_path / ".submitit").mkdir()
    rows = job_rows(tmp_path)
    assert [(row["job"], row["model.hidden_size"], row["test/rmse_5s"]) for row in rows] == [("0", "64", 2.0), ("1", "128", 1.5)]
    assert "model" not in rows[0] and "trainer.max_epochs" not in rows[0]
