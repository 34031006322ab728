"""Simulation speed of the two simulators, side by side in one run: rows/s of highway-env and of SUMO
(`simulate.backend=sumo`) with the settings of conf/simulate/default.yaml, in one process: the simulation alone, and
simulated and written as highD recordings (what `drivelab simulate` does). Needs the `sumo` extra
(pip install -e '.[sumo]').

    .venv/bin/python benchmarks/simulate_backends.py                # 3 episodes of each
    .venv/bin/python benchmarks/simulate_backends.py --episodes 6

Nothing is written outside a temporary folder. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path
from typing import List

from drivelab.config.validate import compose
from drivelab.sim.recordings import SIMULATORS, write_recordings


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3, help="episodes per simulator")
    args = parser.parse_args(argv)
    sim = compose("simulate").simulate
    episode = dict(duration_s=sim.duration_s, sample_hz=sim.sample_hz, lanes=sim.lanes, vehicles=sim.vehicles,
                   speed_range_mps=list(sim.speed_range_mps), randomize_behavior=sim.randomize_behavior,
                   truck_fraction=sim.truck_fraction, road_length_m=sim.road_length_m)
    results = {}
    with tempfile.TemporaryDirectory(prefix="drivelab-bench-") as scratch:
        for backend in SIMULATORS:
            write_recordings(Path(scratch) / "warm-up", 1, 1000, 1, backend=backend, **{**episode, "duration_s": 2.0})
            simulator = importlib.import_module(SIMULATORS[backend][0])
            started = time.perf_counter()
            simulated_rows = sum(len(simulator.simulate_episode(sim.seed + i, **episode)) for i in range(args.episodes))
            simulate_s = time.perf_counter() - started
            started = time.perf_counter()
            rows, _ = write_recordings(Path(scratch) / backend, args.episodes, sim.seed, 1, backend=backend, **episode)
            results[backend] = (simulated_rows / simulate_s, rows / (time.perf_counter() - started))

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
