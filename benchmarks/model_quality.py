"""Model quality benchmark: every shipped model, trained with several seeds on one fixed simulated data set, held out
by episode; mean +- sd of every test metric. The table in docs/model-quality.md comes from this script. It is a
benchmark, not a test: the full size takes about an hour on a 2-core machine (55 min measured).

    .venv/bin/python benchmarks/model_quality.py                                  # 100 episodes of 40 s, 3 seeds
    .venv/bin/python benchmarks/model_quality.py --episodes 60 --max-epochs 8     # smaller
    .venv/bin/python benchmarks/model_quality.py --jobs 1 --threads 2             # one training at a time

Everything goes through the real CLI (`drivelab simulate`, `prepare`, `train`), so the numbers are what a user gets.
Finished runs are kept and skipped on a rerun (delete the runs folder to start over).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
DRIVELAB = [sys.executable, "-m", "drivelab"]

# Every model option shipped in conf/model/, with the overrides that select it.
TRAJECTORY_MODELS: Dict[str, List[str]] = {
    "cv": ["model=cv"],
    "cv_no_lateral": ["model=cv_no_lateral"],
    "ca": ["model=ca"],
    "mlp": ["model=mlp"],
    "gru": ["model=gru"],
    "lstm": ["model=lstm"],
    "interaction": ["model=interaction"],
    "multimodal": ["experiment=multimodal"],  # checkpoint and early stopping on minFDE
}
INTENTION_MODELS: Dict[str, List[str]] = {
    "intention_majority": ["experiment=intention", "model=intention_majority"],
    "intention_gru": ["experiment=intention"],
}
UNTRAINED = {"cv", "cv_no_lateral", "ca", "intention_majority"}  # no parameters: one run says everything
SEQUENCE_MODELS = ("gru", "lstm", "interaction", "multimodal")


def run(command: Sequence[str], env: Dict[str, str] | None = None) -> None:
    done = subprocess.run(list(command), cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def prepare_data(data_dir: Path, episodes: int, duration_s: float, sim_seed: int) -> None:
    if (data_dir / "windows" / "windows.json").is_file():
        print(f"data: reusing {data_dir}")
        return
    started = time.perf_counter()
    run([*DRIVELAB, "simulate", f"paths.data_dir={data_dir}", f"simulate.episodes={episodes}",
         f"simulate.duration_s={duration_s}", f"simulate.seed={sim_seed}", "simulate.workers=2"])
    run([*DRIVELAB, "prepare", f"paths.data_dir={data_dir}"])
    print(f"data: {episodes} episodes of {duration_s:.0f} s simulated and windowed in "
          f"{time.perf_counter() - started:.0f} s -> {data_dir}")


def train(name: str, overrides: List[str], seed: int, args: argparse.Namespace) -> Tuple[str, int, Path, float]:
    run_dir = args.runs_dir / name / f"seed{seed}"
    manifest = run_dir / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("status") == "completed":
        return name, seed, run_dir, 0.0
    # One torch thread per training by default: on a shared 2-core machine more threads oversubscribe the cores,
    # and an oversubscribed torch step was measured 5x slower here.
    env = dict(os.environ, WANDB_MODE="disabled", OMP_NUM_THREADS=str(args.threads))
    started = time.perf_counter()
    run([*DRIVELAB, "train", *overrides, f"seed={seed}", f"trainer.max_epochs={args.max_epochs}", "logger=csv",
         f"paths.data_dir={args.data_dir}", f"hydra.run.dir={run_dir}", "trainer.enable_progress_bar=false",
         "trainer.enable_model_summary=false"], env=env)
    elapsed = time.perf_counter() - started
    print(f"  {name} seed {seed}: {elapsed:.0f} s", flush=True)
    return name, seed, run_dir, elapsed


def mean_sd(values: List[float]) -> Tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def aggregate(results: List[Tuple[str, int, Path, float]]) -> Dict[str, Dict]:
    table: Dict[str, Dict] = {}
    for name, seed, run_dir, _ in results:
        entry = table.setdefault(name, {"seeds": [], "metrics": {}, "wall_s": []})
        metrics = json.loads((run_dir / "metrics.json").read_text())
        manifest = json.loads((run_dir / "manifest.json").read_text())
        started, finished = (datetime.fromisoformat(manifest[key]) for key in ("started_at", "finished_at"))
        entry["seeds"].append(seed)
        entry["wall_s"].append((finished - started).total_seconds())
        entry.setdefault("epochs", []).append(manifest.get("epochs"))
        for metric, value in metrics.items():
            entry["metrics"].setdefault(metric, []).append(value)
        slices_file = run_dir / "slice_metrics.json"
        if slices_file.is_file():  # where the model wins or loses: RMSE@5s per slice of the test windows
            for slice_name, values in json.loads(slices_file.read_text())["slices"].items():
                entry.setdefault("slice_counts", {})[slice_name] = values["count"]
                if "rmse_5s" in values.get("model", {}):
                    entry.setdefault("slices", {}).setdefault(slice_name, []).append(values["model"]["rmse_5s"])
    for entry in table.values():
        entry["summary"] = {metric: mean_sd(values) for metric, values in entry["metrics"].items()}
    return table


def markdown(table: Dict[str, Dict], names: List[str]) -> str:
    names = [name for name in names if name in table]
    metrics: List[str] = []
    for name in names:
        metrics += [metric for metric in table[name]["summary"] if metric not in metrics]
    header = "| model | runs | " + " | ".join(metric.split("/", 1)[1] for metric in metrics) + " | s/run |"
    lines = [header, "|" + "---|" * (len(metrics) + 3)]
    for name in names:
        entry = table[name]
        cells = []
        for metric in metrics:
            if metric in entry["summary"]:
                mean, sd = entry["summary"][metric]
                cells.append(f"{mean:.3f} ± {sd:.3f}" if len(entry["seeds"]) > 1 else f"{mean:.3f}")
            else:
                cells.append("-")
        lines.append(f"| {name} | {len(entry['seeds'])} | " + " | ".join(cells) + f" | {statistics.fmean(entry['wall_s']):.0f} |")
    return "\n".join(lines)


def slice_markdown(table: Dict[str, Dict], names: List[str]) -> str:
    names = [name for name in names if table.get(name, {}).get("slices")]
    if not names:
        return ""
    counts = table[names[0]]["slice_counts"]
    slices = [name for name in counts if counts[name]]
    lines = ["| RMSE@5s per slice | " + " | ".join(f"{name} (n={counts[name]})" for name in slices) + " |",
             "|" + "---|" * (len(slices) + 1)]
    for name in names:
        cells = [f"{statistics.fmean(table[name]['slices'][s]):.3f}" if s in table[name]["slices"] else "-"
                 for s in slices]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(table: Dict[str, Dict]) -> List[str]:
    """The benchmark's goals, checked on the means."""
    rmse = {name: entry["summary"]["test/rmse_5s"][0] for name, entry in table.items() if "test/rmse_5s" in entry["summary"]}
    lines = []
    if "cv" in rmse:
        best = min((name for name in rmse if name not in UNTRAINED), key=rmse.get, default=None)
        if best:
            ratio = rmse[best] / rmse["cv"]
            lines.append(f"best learned model: {best}, RMSE@5s {rmse[best]:.3f} m = {ratio:.2f} x constant velocity "
                         f"({rmse['cv']:.3f} m); goal <= 0.50: {'met' if ratio <= 0.5 else 'NOT met'}")
    if "mlp" in rmse:
        for name in SEQUENCE_MODELS:
            if name in rmse:
                verdict = "beats" if rmse[name] < rmse["mlp"] else "does NOT beat"
                lines.append(f"{name} {verdict} the MLP: RMSE@5s {rmse[name]:.3f} vs {rmse['mlp']:.3f} m")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100, help="simulated episodes (split by episode 70/15/15)")
    parser.add_argument("--duration-s", type=float, default=40.0, help="length of each episode")
    parser.add_argument("--sim-seed", type=int, default=2026, help="seed of the simulation (fixes the data set)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds per learned model")
    parser.add_argument("--max-epochs", type=int, default=15, help="training epochs (early stopping may end sooner)")
    parser.add_argument("--models", nargs="+", default=list(TRAJECTORY_MODELS) + list(INTENTION_MODELS))
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2), help="trainings at once (at most 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training (OMP_NUM_THREADS)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: data/benchmark-<episodes>x<duration>s")
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: runs/benchmark-<episodes>x<duration>s")
    parser.add_argument("--out", type=Path, default=None, help="JSON of every run and summary (default: in runs-dir)")
    args = parser.parse_args()
    tag = f"benchmark-{args.episodes}x{args.duration_s:.0f}s"
    args.data_dir = (args.data_dir or ROOT / "data" / tag).resolve()
    args.runs_dir = (args.runs_dir or ROOT / "runs" / tag / f"{args.max_epochs}ep").resolve()
    unknown = [name for name in args.models if name not in {**TRAJECTORY_MODELS, **INTENTION_MODELS}]
    if unknown:
        parser.error(f"unknown model {unknown[0]}; choose from {', '.join({**TRAJECTORY_MODELS, **INTENTION_MODELS})}")

    started = time.perf_counter()
    prepare_data(args.data_dir, args.episodes, args.duration_s, args.sim_seed)
    info = json.loads((args.data_dir / "windows" / "windows.json").read_text())
    split_sizes = {split: info["splits"][split].get("windows") for split in ("train", "val", "test")}
    print(f"windows per split: {split_sizes}")

    options = {**TRAJECTORY_MODELS, **INTENTION_MODELS}
    jobs = [(name, options[name], seed) for name in args.models
            for seed in (args.seeds[:1] if name in UNTRAINED else args.seeds)]
    print(f"training {len(jobs)} runs ({args.jobs} at a time) -> {args.runs_dir}", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda job: train(job[0], job[1], job[2], args), jobs))

    table = aggregate(results)
    trajectory = markdown(table, list(TRAJECTORY_MODELS))
    intention = markdown(table, list(INTENTION_MODELS))
    by_slice = slice_markdown(table, list(TRAJECTORY_MODELS))
    checks = verdicts(table)
    command = " ".join(["python", "benchmarks/model_quality.py", *sys.argv[1:]])
    print(f"\n{command}\ndata: {args.episodes} episodes x {args.duration_s:.0f} s, windows {split_sizes}, "
          f"max_epochs {args.max_epochs}, seeds {args.seeds}\n")
    print(trajectory, "", by_slice, "", intention, "", *checks, sep="\n")
    print(f"\nbenchmark finished in {time.perf_counter() - started:.0f} s")
    out = args.out or args.runs_dir / "model_quality.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "episodes": args.episodes, "duration_s": args.duration_s,
                               "windows": split_sizes, "max_epochs": args.max_epochs, "seeds": args.seeds,
                               "models": table, "checks": checks}, indent=2, default=str) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
