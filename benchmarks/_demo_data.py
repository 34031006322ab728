"""Simulated windows shared by the suite's benchmarks: made once per size through the real CLI, then reused.

Kept under /tmp/drivelab-bench/sim-<episodes> (outside the repository), so the benchmarks of one suite run, each in
its own process, measure the same data and pay for the simulation once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CACHE = Path("/tmp/drivelab-bench")


def demo_data_dir(episodes: int = 8, duration_s: int = 40) -> Path:
    """A data folder with windows/ of `episodes` simulated episodes (simulate + prepare, once)."""
    data_dir = CACHE / f"sim-{episodes}x{duration_s}s"
    if not (data_dir / "windows" / "windows.json").is_file():
        drivelab = [sys.executable, "-m", "drivelab"]
        print(f"simulating {episodes} episodes into {data_dir} (once) ...", file=sys.stderr, flush=True)
        subprocess.run([*drivelab, "simulate", f"paths.data_dir={data_dir}", f"simulate.episodes={episodes}",
                        f"simulate.duration_s={duration_s}", "simulate.workers=2"], check=True, capture_output=True)
        subprocess.run([*drivelab, "prepare", f"paths.data_dir={data_dir}"], check=True, capture_output=True)
    return data_dir
