"""Sweep throughput: the same short trials with 1 worker and with 2 workers, side by side in one run.

    .venv/bin/python benchmarks/sweep_workers.py [--trials 8] [--epochs 2] [--data-dir DIR]

Both arms run `drivelab sweep` with torch fixed at 1 thread per trial, on the same data and the same search
space: a seed searched over a fixed model, so every trial costs the same whatever values are drawn. It prints
the speed-up of the trial phase (first trial start to last trial end, from the study's own timestamps) and of
the whole command, and the per-trial overhead beyond training (composition, run directory and lineage, data
module, model and trainer construction) next to the one-off cost of a sweep command (imports, validation).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SEARCH = """name: bench
objective: {{metric: val/rmse_5s, direction: minimize}}
n_trials: {trials}
sampler: {{name: random, seed: 0}}
pruner: {{name: none}}
overrides: [model=mlp, model.hidden_size=128, logger=csv, trainer.max_epochs={epochs}, data.batch_size=128,
            callbacks.early_stopping=null]
params:
  seed: {{type: int, low: 0, high: 1000000}}
"""


def drivelab(*args: str, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "drivelab"), *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def arm(workers: int, args: argparse.Namespace, data_dir: Path, work: Path, env: dict) -> dict:
    runs_dir = work / f"runs_{workers}w"
    wall_s = drivelab("sweep", "search=bench", f"paths.data_dir={data_dir}", f"paths.runs_dir={runs_dir}",
                      f"sweep.n_workers={workers}", "sweep.torch_threads=1", env=env)
    study = optuna.load_study(study_name="bench", storage=f"sqlite:///{runs_dir / 'sweeps' / 'bench' / 'study.db'}")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == args.trials, f"{len(trials)} complete trials, expected {args.trials}"
    span_s = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    seconds = [t.user_attrs["seconds"] for t in trials]
    total = statistics.mean(s["total"] for s in seconds)
    training = statistics.mean(s["fit"] + s["test"] for s in seconds)
    return {"workers": workers, "wall_s": wall_s, "trials_s": span_s, "trial_s": total, "training_s": training,
            "overhead_s": total - training, "compose_s": statistics.mean(s["compose"] for s in seconds)}


def run(trials: int, epochs: int, data_dir: Path | None) -> dict:
    args = argparse.Namespace(trials=trials, epochs=epochs)
    work = Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "DRIVELAB_CONF_DIR": str(work / "conf")}
    try:
        shutil.copytree(ROOT / "conf", work / "conf")
        for local in (work / "conf" / "local").glob("*.yaml"):
            local.unlink()
        (work / "conf" / "search" / "bench.yaml").write_text(SEARCH.format(trials=trials, epochs=epochs))
        if data_dir is None:
            data_dir = work / "data"
            drivelab("simulate", f"paths.data_dir={data_dir}", "simulate.episodes=8", "simulate.duration_s=40", env=env)
            drivelab("prepare", f"paths.data_dir={data_dir}", env=env)
        import_s = drivelab_import_seconds()
        machine_before = cpu_parallelism()
        one, two = arm(1, args, data_dir, work, env), arm(2, args, data_dir, work, env)
        machine_after = cpu_parallelism()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"one": one, "two": two, "import_s": import_s, "machine_before": machine_before,
            "machine_after": machine_after}


def measure(quick: bool) -> list:
    """The suite's figure: the trial phase with 2 workers vs 1, beside the machine's own 2-process parallelism."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _demo_data import demo_data_dir

    r = run(4 if quick else 8, 1 if quick else 2, demo_data_dir())
    one, two = r["one"], r["two"]
    raw = {"trials": 4 if quick else 8, "one_worker_trial_phase_s": round(one["trials_s"], 2),
           "two_workers_trial_phase_s": round(two["trials_s"], 2), "one_worker_command_s": round(one["wall_s"], 2),
           "two_workers_command_s": round(two["wall_s"], 2), "per_trial_overhead_s": round(one["overhead_s"], 2),
           "machine_parallelism_before": round(r["machine_before"], 2),
           "machine_parallelism_after": round(r["machine_after"], 2)}
    return [{"name": "sweep_trials_2_workers_vs_1", "what": "sweep trial phase: 2 workers vs 1",
             "ratio": one["trials_s"] / two["trials_s"], "goal": 1.7, "better": "higher", "raw": raw}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, help="prepared data (data_dir with windows/); simulated if absent")
    args = parser.parse_args()
    r = run(args.trials, args.epochs, args.data_dir)
    one, two, import_s = r["one"], r["two"], r["import_s"]
    machine_before, machine_after = r["machine_before"], r["machine_after"]
    print(f"{args.trials} trials of {args.epochs} epochs, torch 1 thread per trial, {os.cpu_count()} cores")
    print("| workers | command s | trial phase s | per trial s | training s | overhead s | compose s |")
    print("|---|---|---|---|---|---|---|")
    for result in (one, two):
        print(f"| {result['workers']} | {result['wall_s']:.1f} | {result['trials_s']:.1f} | {result['trial_s']:.2f} | "
              f"{result['training_s']:.2f} | {result['overhead_s']:.2f} | {result['compose_s']:.2f} |")
    print(f"speed-up 2 vs 1 worker: trial phase {one['trials_s'] / two['trials_s']:.2f}x, "
          f"whole command {one['wall_s'] / two['wall_s']:.2f}x")
    print(f"one-off per sweep command: import of the training stack {import_s:.1f} s; before and after the trials "
          f"(imports, validation, probe, reports, plots) {one['wall_s'] - one['trials_s']:.1f} s")
    print(f"the machine's own parallelism, 2 vs 1 pure-CPU processes: {machine_before:.2f}x before the arms, "
          f"{machine_after:.2f}x after (the ceiling for any 2-worker speed-up at that moment)")


def cpu_parallelism(loops: int = 15_000_000) -> float:
    """Throughput of two concurrent pure-Python CPU loops relative to one (2.0 on two free cores)."""
    code = f"import time; t = time.perf_counter(); sum(range({loops})); print(time.perf_counter() - t)"

    def run(copies: int) -> float:
        started = time.perf_counter()
        processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL) for _ in range(copies)]
        for process in processes:
            process.wait()
        return time.perf_counter() - started

    return 2 * run(1) / run(2)


def drivelab_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import drivelab.runs.training; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


if __name__ == "__main__":
    main()
