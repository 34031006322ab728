"""Simulation speed of the two simulators, side by side in one run: rows/s of highway-env and of SUMO
(`simulate.backend=sumo`) with the settings of conf/simulate/default.yaml, in one process: the simulation alone, and
simulated and written as highD recordings (what `drivelab simulate` does). SUMO needs the `sumo` extra
(pip install -e '.[sumo]'); without it only highway-env is measured (and said so on stderr).

    .venv/bin/python benchmarks/simulate_backends.py                # 3 episodes of each
    .venv/bin/python benchmarks/simulate_backends.py --episodes 6
    .venv/bin/python benchmarks/simulate_backends.py --quick        # the suite's figures (or: make bench)

Nothing is written outside a temporary folder. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from drivelab.config.validate import compose
from drivelab.sim.recordings import SIMULATORS, write_recordings


def sumo_available() -> bool:
    """The `sumo` extra: sumolib and the sumo program it finds (checkBinary hands back the bare name if none)."""
    if importlib.util.find_spec("sumolib") is None:
        return False
    from drivelab.sim.sumo_traffic import sumo_binary

    binary = sumo_binary("sumo")
    return Path(binary).is_file() or shutil.which(binary) is not None


def rates(episodes: int) -> Tuple[Dict[str, Tuple[float, float]], Dict[str, Any]]:
    """Per available simulator, (simulation rows/s, simulated + written rows/s); and the episode settings."""
    sim = compose("simulate").simulate
    episode = dict(duration_s=sim.duration_s, sample_hz=sim.sample_hz, lanes=sim.lanes, vehicles=sim.vehicles,
                   speed_range_mps=list(sim.speed_range_mps), randomize_behavior=sim.randomize_behavior,
                   truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
    backends = [backend for backend in SIMULATORS if backend != "sumo" or sumo_available()]
    if "sumo" not in backends:
        print("simulate_backends: SUMO not installed (pip install -e '.[sumo]'): highway-env measured alone",
              file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="drivelab-bench-") as scratch:
        for backend in backends:
            write_recordings(Path(scratch) / "warm-up", 1, 1000, 1, backend=backend, **{**episode, "duration_s": 2.0})
            simulator = importlib.import_module(SIMULATORS[backend][0])
            started = time.perf_counter()
            simulated_rows = sum(len(simulator.simulate_episode(sim.seed + i, **episode)) for i in range(episodes))
            simulate_s = time.perf_counter() - started
            started = time.perf_counter()
            rows, _ = write_recordings(Path(scratch) / backend, episodes, sim.seed, 1, backend=backend, **episode)
            results[backend] = (simulated_rows / simulate_s, rows / (time.perf_counter() - started))
    return results, episode


def measure(quick: bool) -> List[Dict[str, Any]]:
    episodes = 2 if quick else 3
    results, episode = rates(episodes)
    raw: Dict[str, Any] = {"episodes": episodes, "duration_s": episode["duration_s"], "vehicles": episode["vehicles"]}
    for backend, (simulate_rate, written_rate) in results.items():
        raw.update({f"{backend}_simulation_rows_per_s": round(simulate_rate),
                    f"{backend}_written_rows_per_s": round(written_rate)})
    figures = []
    for backend, (simulate_rate, written_rate) in results.items():
        figures.append({"name": f"simulator_{backend}_written_vs_simulation",
                        "what": f"{backend}: rows/s simulated and written as highD vs simulated alone",
                        "ratio": written_rate / simulate_rate, "goal": None, "better": "higher", "raw": raw})
    if "sumo" in results:
        base_simulate, base_written = results["highway_env"]
        figures.append({"name": "simulator_sumo_vs_highway_env", "what": "simulation rows/s: SUMO vs highway-env",
                        "ratio": results["sumo"][0] / base_simulate, "goal": None, "better": "higher", "raw": raw})
        figures.append({"name": "simulator_sumo_vs_highway_env_written",
                        "what": "rows/s simulated and written as highD: SUMO vs highway-env",
                        "ratio": results["sumo"][1] / base_written, "goal": None, "better": "higher", "raw": raw})
    return figures


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3, help="episodes per simulator")
    parser.add_argument("--quick", action="store_true", help="the suite's small size; prints its figures")
    args = parser.parse_args(argv)
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return
    results, episode = rates(args.episodes)
    print(f"\n{args.episodes} episodes of {episode['duration_s']:g} s, {episode['vehicles']} vehicles, "
          f"{episode['lanes']} lanes, {episode['sample_hz']} Hz, 1 process")
    simulate_base, written_base = results["highway_env"]
    print("| simulator | simulation rows/s | vs highway_env | simulated + written rows/s | vs highway_env |")
    print("|---|---|---|---|---|")
    for backend, (simulate_rate, written_rate) in results.items():
        print(f"| {backend} | {simulate_rate:,.0f} | {simulate_rate / simulate_base:.1f}x | {written_rate:,.0f} | "
              f"{written_rate / written_base:.1f}x |")


if __name__ == "__main__":
    main()
