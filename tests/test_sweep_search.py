"""`drivelab sweep`: an Optuna study with pruning whose trials are training runs; kill -9 and resume; a bad search
space refused before any trial starts. Search spaces are written into a copy of conf/ (DRIVELAB_CONF_DIR)."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import yaml

from conftest import BIN_DIR, PROJECT_ROOT, cli_env, drivelab, read_json
from drivelab.config.validate import compose

pytestmark = pytest.mark.slow

TRIAL_SETTINGS = """overrides:
  - model=mlp
  - trainer.max_epochs=3
  - trainer.limit_train_batches=6
  - data.batch_size=128
  - callbacks.early_stopping=null
"""
SEARCHES = {
    # A learning rate of 1e-7 learns nothing in three short epochs: the median pruner stops such trials. With this
    # seed the random sampler draws lr 0.01, 0.01, 1e-7, 1e-7.
    "prune_test": """name: prune_test
objective: {metric: val/rmse_5s, direction: minimize}
n_trials: 4
sampler: {name: random, seed: 2}
pruner: {name: median, options: {n_startup_trials: 1, n_warmup_steps: 0}}
params:
  model.optimizer.lr: {type: categorical, choices: [0.01, 1.0e-7]}
  model.hidden_size: {type: int, low: 16, high: 32}
""" + TRIAL_SETTINGS,
    "resume_test": """name: resume_test
n_trials: 3
sampler: {name: random, seed: 0}
pruner: {name: none}
params:
  model.hidden_size: {type: int, low: 16, high: 48, log: true}
""" + TRIAL_SETTINGS + "  - logger=csv\n",
    "unknown_param": "name: unknown_param\nparams:\n  model.hidden_sizes: {type: int, low: 16, high: 32}\n",
    "empty_range": "name: empty_range\nparams:\n  model.hidden_size: {type: int, low: 64, high: 16}\n",
}


@pytest.fixture(scope="module")
def sweep_conf(tmp_path_factory):
    conf = tmp_path_factory.mktemp("sweep_conf") / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    for stale in (conf / "local").glob("*.yaml"):
        stale.unlink()  # a developer's machine-specific settings have no place in a test
    for name, text in SEARCHES.items():
        (conf / "search" / f"{name}.yaml").write_text(text)
    return conf


def sweep(conf, *args, check=True):
    return drivelab("sweep", *args, env=cli_env(DRIVELAB_CONF_DIR=str(conf)), check=check)


def running(pid):
    """Whether a process runs (an exited orphan may linger as a zombie until something reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def load_study(sweep_dir, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir / 'study.db'}")


@pytest.fixture(scope="module")
def pruned_study(sim_data_dir, sweep_conf, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("search")
    done = sweep(sweep_conf, "search=prune_test", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={runs_dir}",
                 "sweep.save_as=best_prune_test")
    sweep_dir = runs_dir / "sweeps" / "prune_test"
    return sweep_dir, load_study(sweep_dir, "prune_test"), done.stdout


def test_study_finishes_the_asked_trials_and_prunes_the_bad_ones(pruned_study):
    sweep_dir, study, _ = pruned_study
    states = [trial.state for trial in study.trials]
    assert len(states) == 4 and set(states) == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    for trial in study.trials:
        manifest = read_json(os.path.join(trial.user_attrs["run_dir"], "manifest.json"))
        if trial.params["model.optimizer.lr"] == 1e-7:
            assert trial.state == optuna.trial.TrialState.PRUNED
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert len(trial.intermediate_values) < 3 and manifest["status"] == "pruned"
        else:
            assert len(trial.intermediate_values) == 3 and manifest["status"] == "completed"
            assert trial.value == min(trial.intermediate_values.values())


def test_each_trial_records_its_worker_and_run_directory(pruned_study):
    _, study, _ = pruned_study
    for trial in study.trials:
        assert trial.user_attrs["worker_host"] == socket.gethostname() and trial.user_attrs["worker_pid"] > 0
        manifest = read_json(os.path.join(trial.user_attrs["run_dir"], "manifest.json"))
        assert manifest["sweep"]["trial"] == trial.number and manifest["sweep"]["study"] == "prune_test"
        assert f"model.hidden_size={trial.params['model.hidden_size']}" in manifest["sweep"]["overrides"]


def test_trials_share_one_wandb_group_and_each_finishes_its_own_run(pruned_study):
    _, study, _ = pruned_study
    run_ids = set()
    for trial in study.trials:
        run_dir = trial.user_attrs["run_dir"]
        assert yaml.safe_load(open(os.path.join(run_dir, "config.yaml")))["logger"]["wandb"]["group"] == "prune_test"
        (offline_run,) = (Path(run_dir) / "logs" / "wandb").glob("offline-run-*")  # its own, not reused
        run_ids.add(offline_run.name.rsplit("-", 1)[-1])
    assert len(run_ids) == len(study.trials)


def test_best_trial_is_written_as_overrides_config_and_experiment(pruned_study, sweep_conf, monkeypatch):
    sweep_dir, study, stdout = pruned_study
    best = study.best_trial
    overrides = yaml.safe_load((sweep_dir / "best_overrides.yaml").read_text())
    assert f"model.hidden_size={best.params['model.hidden_size']}" in overrides
    assert yaml.safe_load((sweep_dir / "best_config.yaml").read_text())["model"]["hidden_size"] == best.params["model.hidden_size"]
    monkeypatch.setenv("DRIVELAB_CONF_DIR", str(sweep_conf))
    cfg = compose("train", ["experiment=best_prune_test"])
    assert cfg.model.hidden_size == best.params["model.hidden_size"]
    assert cfg.model.optimizer.lr == best.params["model.optimizer.lr"] and cfg.trainer.max_epochs == 3
    assert "drivelab train experiment=best_prune_test" in stdout


def test_results_table_and_plots_are_written(pruned_study):
    sweep_dir, study, stdout = pruned_study
    lines = (sweep_dir / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + len(study.trials) and "worker" in lines[0] and "run_dir" in lines[0]
    for name in ("history", "importance", "intermediate_values"):
        assert (sweep_dir / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| trial | state | val/rmse_5s |" in stdout


def test_killed_study_resumes_to_exactly_the_asked_trials(sim_data_dir, sweep_conf, tmp_path):
    args = ["search=resume_test", f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={tmp_path}", "sweep.n_workers=2",
            "sweep.heartbeat_s=1", "sweep.grace_s=2"]
    sweep_dir = tmp_path / "sweeps" / "resume_test"
    first = subprocess.Popen([str(BIN_DIR / "drivelab"), "sweep", *args], cwd=PROJECT_ROOT,
                             env=cli_env(DRIVELAB_CONF_DIR=str(sweep_conf)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(sweep_dir.glob("trials/*/metrics.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)  # the sweep process only: its workers must notice and stop too
    first.wait()
    trials = load_study(sweep_dir, "resume_test").trials
    worker_pids = {trial.user_attrs["worker_pid"] for trial in trials if "worker_pid" in trial.user_attrs}
    assert len(worker_pids) == 2
    deadline = time.monotonic() + 10
    while any(map(running, worker_pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(running, worker_pids)), "the workers of a killed sweep must stop too"
    at_kill = load_study(sweep_dir, "resume_test").trials
    interrupted = {t.number for t in at_kill if t.state == optuna.trial.TrialState.RUNNING}
    finished_before = sum(t.state == optuna.trial.TrialState.COMPLETE for t in at_kill)
    assert interrupted, "the kill should catch a trial in flight"

    resumed = sweep(sweep_conf, *args)
    study = load_study(sweep_dir, "resume_test")
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 3
    table = [(t.number, t.state.name, t.system_attrs.get("retry_history"), t.user_attrs.get("error"))
             for t in study.trials]
    retried = {trial.system_attrs.get("failed_trial") for trial in complete} - {None}
    still_queued = {trial.system_attrs.get("failed_trial")
                    for trial in study.get_trials(states=(optuna.trial.TrialState.WAITING,))} - {None}
    # However many trials the kill caught in flight, each one's parameters either ran again or stay queued for a
    # later, larger run; the interrupted trials fill the free slots first, and the summary names the queued ones.
    assert interrupted == retried | still_queued and not retried & still_queued, table
    assert len(retried) == min(len(interrupted), 3 - finished_before), table
    if still_queued:
        assert "stay queued with their parameters" in resumed.stdout
        assert f"sweep.n_trials={3 + len(still_queued)}" in resumed.stdout
    for manifest_file in sweep_dir.glob("trials/*/manifest.json"):  # killed mid-training: no longer "running"
        assert read_json(manifest_file)["status"] in ("completed", "failed")


@pytest.mark.parametrize("args,message", [
    (["search=unknown_param"], "parameter model.hidden_sizes=16 does not fit the training config: unknown key "
                               "'model.hidden_sizes'"),
    (["search=empty_range"], "search.params.model.hidden_size: the range [64, 16] is empty"),
    (["search=prune_test", "search.objective.metric=val/accuracy"],
     "search.objective.metric=val/accuracy is never logged by drivelab.models.mlp.ResidualMLP; choose one of: "),
])
def test_bad_search_space_is_refused_before_any_trial(args, message, sim_data_dir, sweep_conf, tmp_path):
    done = sweep(sweep_conf, *args, f"paths.data_dir={sim_data_dir}", f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    assert not list(tmp_path.rglob("study.db")) and not list(tmp_path.rglob("trials"))


@pytest.mark.parametrize("value", [0.001, 1e-07, 64, True, None, "mlp", "two words", "1e3", "null"])
def test_sampled_values_survive_hydras_override_parser(value):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from drivelab.sweep.space import format_value

    parsed = OverridesParser.create().parse_override(f"model.x={format_value(value)}")
    assert parsed.value() == value and type(parsed.value()) is type(value)


def test_tally_keeps_a_dead_workers_slot_until_its_retry_is_queued():
    import datetime

    from drivelab.sweep.study_setup import SweepPlan
    from drivelab.sweep.workers import tally

    plan = SweepPlan(study="s", storage="sqlite://", sweep_dir=".", n_trials=3, n_workers=2, torch_threads=1, params=(),
                     fixed_overrides=(), metric="val/loss", direction="minimize", sampler={}, pruner={}, heartbeat_s=1,
                     grace_s=60, max_retries=2, max_consecutive_failures=3)
    now = datetime.datetime.now()

    def trial(number, state, user_attrs=None, retry_of=None, ended=now):
        trial = optuna.trial.create_trial(state=state, value=1.0 if state == optuna.trial.TrialState.COMPLETE else None,
                                          user_attrs=user_attrs or {},
                                          system_attrs={"failed_trial": retry_of[0], "retry_history": retry_of}
                                          if retry_of else {})
        trial.number, trial.datetime_complete = number, ended if state != optuna.trial.TrialState.WAITING else None
        return trial

    done, died = trial(0, optuna.trial.TrialState.COMPLETE), trial(1, optuna.trial.TrialState.FAIL)
    assert tally([done, died], plan) == (1, 1, 0)  # failed without an error: its worker died, a retry is coming
    queued = trial(2, optuna.trial.TrialState.WAITING, retry_of=[1])
    twin = trial(3, optuna.trial.TrialState.WAITING, retry_of=[1])  # two workers failed trial 1 at once
    assert tally([done, died, queued, twin], plan) == (1, 0, 1)
    crashed = trial(4, optuna.trial.TrialState.FAIL, user_attrs={"error": "ValueError: nan"})
    surplus = trial(5, optuna.trial.TrialState.FAIL, user_attrs={"error": "SurplusTrial: ...", "surplus": True})
    long_ago = trial(6, optuna.trial.TrialState.FAIL, ended=now - datetime.timedelta(seconds=600))
    assert tally([done, crashed, surplus, long_ago], plan) == (1, 0, 0)  # none of these will be re-run


def _reap_when_all_are_ready(plan, barrier):
    from drivelab.sweep.study_setup import open_storage
    from drivelab.sweep.workers import reap_dead_trials

    storage = open_storage(plan)
    study = optuna.load_study(study_name=plan.study, storage=storage)
    barrier.wait()
    reap_dead_trials(study, storage, storage.get_study_id_from_name(plan.study), plan)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_workers_reaping_one_dead_trial_at_once_queue_one_retry(tmp_path):
    import multiprocessing

    from drivelab.sweep.study_setup import SweepPlan, open_storage

    plan = SweepPlan(study="s", storage=f"sqlite:///{tmp_path / 'study.db'}", sweep_dir=str(tmp_path), n_trials=3,
                     n_workers=4, torch_threads=1, params=(), fixed_overrides=(), metric="val/loss",
                     direction="minimize", sampler={}, pruner={}, heartbeat_s=1, grace_s=60, max_retries=2,
                     max_consecutive_failures=3)
    storage = open_storage(plan)
    study = optuna.create_study(study_name=plan.study, storage=storage)
    for _ in range(6):  # trials whose worker died an hour ago: last heartbeat far beyond grace_s
        trial_id = study.ask()._trial_id
        storage.record_heartbeat(trial_id)
    with storage.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE trial_heartbeats SET heartbeat = datetime(heartbeat, '-1 hour')")
    storage.engine.dispose()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(plan.n_workers)
    workers = [context.Process(target=_reap_when_all_are_ready, args=(plan, barrier)) for _ in range(plan.n_workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * plan.n_workers
    trials = load_study(tmp_path, plan.study).trials
    retries = sorted(trial.system_attrs["failed_trial"] for trial in trials if trial.state.name == "WAITING")
    assert [trial.state.name for trial in trials[:6]] == ["FAIL"] * 6
    assert retries == list(range(6)), "each dead trial is queued again exactly once"
