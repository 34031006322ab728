"""Pipeline steps with 2 workers vs 1, side by side in one run: simulation and ingest + clean of highD recordings of
realistic size, each as the parallel phase (in process, the worker pool already started: the work that splits by
recording) and as the whole thing a user waits for (`drivelab simulate` as a fresh process; ingest + clean with
worker start-up); and `dvc repro` with nothing changed on the demo, when this checkout has run the demo (`make demo`).

    .venv/bin/python benchmarks/pipeline.py [--quick]     # or through the suite: make bench

Goals: >= 1.7x for 2 workers on the parallel phase (one task per recording); `dvc repro` no-op <= 3 s (ratio:
its seconds over that budget). Beside them, the machine's own parallelism at that moment (two pure-Python
processes vs one): no 2-worker speed-up can beat it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_clean  # noqa: E402
from sweep_workers import cpu_parallelism  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARALLEL_GOAL = 1.7
REPRO_BUDGET_S = 3.0


def seconds(argv: List[str], cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def simulate_seconds(work: Path, episodes: int, duration_s: int, workers: int) -> float:
    out = work / f"sim-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    return seconds([sys.executable, "-m", "drivelab", "simulate", f"paths.data_dir={out}", f"simulate.episodes={episodes}",
                    f"simulate.duration_s={duration_s}", f"simulate.workers={workers}"])


def simulate_phase_seconds(work: Path, episodes: int, duration_s: int, workers: int) -> float:
    """`write_recordings` as `drivelab simulate` calls it, in this process, on the pool earlier calls started."""
    from drivelab.config.validate import compose
    from drivelab.sim.recordings import write_recordings

    settings = compose("simulate").simulate
    out = work / f"sim-phase-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    write_recordings(out, episodes, settings.seed, workers, duration_s=duration_s, sample_hz=settings.sample_hz,
                     lanes=settings.lanes, vehicles=settings.vehicles, speed_range_mps=settings.speed_range_mps,
                     randomize_behavior=settings.randomize_behavior, truck_fraction=settings.truck_fraction,
                     road_length_m=settings.road_length_m, backend=settings.backend)
    return time.perf_counter() - started


def ingest_clean_phase_seconds(source: Path, out: Path, workers: int) -> float:
    """Ingest + clean on the pool earlier calls started (`ingest_clean.timed` starts it afresh, as a command does)."""
    from drivelab.data.tracks import clean, ingest

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    ingest.ingest(out, "highd", "bench", str(source), workers)
    clean.clean(out, 3.0, workers)
    return time.perf_counter() - started


def windows_phase_seconds(tracks_dir: Path, out: Path, workers: int) -> float:
    """The windows build as `drivelab windows` runs it (default settings), on the pool earlier calls started."""
    from drivelab.config.validate import compose
    from drivelab.data.windows.build import build
    from drivelab.data.windows.spec import WindowSpec

    settings = compose("prepare").windows  # before the clock: the command composes before its pool starts
    started = time.perf_counter()
    build(tracks_dir, out, WindowSpec.from_config(settings), settings.split, int(settings.shard_mb * 2**20), workers,
          min_pool_bytes=0)  # the pool even for this little data (it waits for bigger data sets otherwise)
    return time.perf_counter() - started


def repro_noop_seconds() -> float | None:
    """`dvc repro` on this checkout when the pipeline is up to date (else None: it would run stages)."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    if not (ROOT / "dvc.lock").is_file() or not (ROOT / "data" / "windows").is_dir():
        return None
    status = subprocess.run([dvc, "status", "--quiet"], cwd=ROOT, capture_output=True)
    if status.returncode != 0:
        return None
    return min(seconds([dvc, "repro"]) for _ in range(2))


def measure(quick: bool) -> List[Dict[str, Any]]:
    episodes, duration_s, vehicles, recordings, rounds = (4, 40, 1800, 8, 2) if quick else (8, 40, 1800, 12, 3)
    figures: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="drivelab-pipeline-") as scratch:
        work = Path(scratch)
        parallelism = cpu_parallelism()
        for workers in (1, 2):  # imports in this process, then the pool's workers and theirs
            simulate_phase_seconds(work, 2, 5, workers)
        phase = {workers: min(simulate_phase_seconds(work, episodes, duration_s, workers) for _ in range(rounds))
                 for workers in (1, 2)}
        sim_one = simulate_seconds(work, episodes, duration_s, 1)
        sim_two = simulate_seconds(work, episodes, duration_s, 2)
        raw_sim = {"episodes": episodes, "duration_s": duration_s, "phase_one_worker_s": round(phase[1], 2),
                   "phase_two_workers_s": round(phase[2], 2), "command_one_worker_s": round(sim_one, 2),
                   "command_two_workers_s": round(sim_two, 2), "machine_parallelism": round(parallelism, 2)}
        figures.append({"name": "simulate_2_workers_vs_1", "what": "simulation: 2 workers vs 1 (parallel phase)",
                        "ratio": phase[1] / phase[2], "goal": PARALLEL_GOAL, "better": "higher", "raw": raw_sim})
        figures.append({"name": "simulate_command_2_workers_vs_1",
                        "what": "`drivelab simulate`: 2 workers vs 1 (whole command)",
                        "ratio": sim_one / sim_two, "goal": None, "better": "higher", "raw": raw_sim})

        source = work / "highd"
        for number in range(1, recordings + 1):
            ingest_clean.write_recording(source, number, ingest_clean.highd_vehicles(vehicles, number))
        for workers in (1, 2):
            ingest_clean_phase_seconds(source, work / "phase", workers)
        phase = {workers: min(ingest_clean_phase_seconds(source, work / "phase", workers) for _ in range(rounds + 1))
                 for workers in (1, 2)}
        one = min(ingest_clean.timed(source, work / "out", "highd", 1) for _ in range(2))
        two = min(ingest_clean.timed(source, work / "out", "highd", 2) for _ in range(2))
        raw_ingest = {"recordings": recordings, "rows": one[2], "phase_one_worker_s": round(phase[1], 2),
                      "phase_two_workers_s": round(phase[2], 2), "with_start_one_worker_s": round(one[0], 2),
                      "with_start_two_workers_s": round(two[0], 2), "machine_parallelism": round(cpu_parallelism(), 2)}
        figures.append({"name": "ingest_clean_2_workers_vs_1",
                        "what": "ingest + clean of highD recordings: 2 workers vs 1 (parallel phase)",
                        "ratio": phase[1] / phase[2], "goal": PARALLEL_GOAL, "better": "higher", "raw": raw_ingest})
        for workers in (1, 2):
            windows_phase_seconds(work / "phase" / "tracks", work / "windows", workers)
        phase = {workers: min(windows_phase_seconds(work / "phase" / "tracks", work / "windows", workers)
                              for _ in range(rounds + 1)) for workers in (1, 2)}
        figures.append({"name": "windows_build_2_workers_vs_1",
                        "what": "windows build of those recordings: 2 workers vs 1 (parallel phase)",
                        "ratio": phase[1] / phase[2], "goal": PARALLEL_GOAL, "better": "higher",
                        "raw": {"recordings": recordings, "phase_one_worker_s": round(phase[1], 2),
                                "phase_two_workers_s": round(phase[2], 2)}})
        figures.append({"name": "ingest_clean_with_start_2_workers_vs_1",
                        "what": "ingest + clean of highD recordings: 2 workers vs 1 (worker start-up included)",
                        "ratio": one[0] / two[0], "goal": None, "better": "higher", "raw": raw_ingest})

    repro_s = repro_noop_seconds()
    if repro_s is not None:
        figures.append({"name": "dvc_repro_noop_vs_3s", "what": f"`dvc repro` with nothing changed / 3 s ({repro_s:.2f} s)",
                        "ratio": repro_s / REPRO_BUDGET_S, "goal": 1.0, "better": "lower", "raw": {"seconds": round(repro_s, 2)}})
    else:
        print("dvc repro no-op: skipped (this checkout has not run the demo pipeline, or it is not up to date)",
              file=sys.stderr)
    return figures


if __name__ == "__main__":
    from suite import run_alone

    run_alone(measure, __doc__)
