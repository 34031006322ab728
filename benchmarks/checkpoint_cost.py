"""What saving a checkpoint costs with drivelab's atomic writer (temp file + fsync + rename) and the resume state
(random states and epoch position) beside Lightning's own writer, on checkpoints of a real drivelab model.

    .venv/bin/python benchmarks/checkpoint_cost.py RUN_DIR/checkpoints/last.ckpt [--repeat 20]
    .venv/bin/python benchmarks/checkpoint_cost.py --quick     # the suite's figures (or: make bench)

Reads a checkpoint a run wrote (weights, optimizer state, callbacks; weights-only) and saves it --repeat times with
each writer into a temporary folder, alternating them so that both see the same disk and the same load; prints the
median milliseconds of each, their ratio, and the bytes the resume state adds. The suite's figures use the last
checkpoint of a one-epoch run of the default model on the suite's demo data, trained first in a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _demo_data import demo_data_dir  # noqa: E402

from drivelab.checkpoints import read_checkpoint  # noqa: E402
from drivelab.runs.checkpoint_io import AtomicCheckpointIO  # noqa: E402
from drivelab.runs.resume_state import STATE_KEY, random_state  # noqa: E402

SHORT_RUN = ["trainer.max_epochs=1", "logger=csv", "test_after_fit=false", "report_plots=false",
             "trainer.enable_progress_bar=false"]


def size_of(payload: object) -> int:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.tell()


def short_run(run_dir: Path) -> Path:
    """A one-epoch run of the default model on the demo data, as `drivelab train` writes it."""
    command = [sys.executable, "-m", "drivelab", "train", f"paths.data_dir={demo_data_dir()}", *SHORT_RUN,
               f"hydra.run.dir={run_dir}"]
    subprocess.run(command, check=True, capture_output=True)
    return run_dir


def save_times(path: Path, repeat: int) -> Dict[str, Any]:
    """Median milliseconds per save of each writer (alternating), and the sizes with and without the resume state."""
    checkpoint = read_checkpoint(path)
    checkpoint.pop(STATE_KEY, None)  # measured with and without it below
    with_state = {**checkpoint, STATE_KEY: {"random": random_state(), "epoch": 3, "batches_done": 17,
                                            "batches_per_epoch": 40}}
    writers = {"lightning": (TorchCheckpointIO(), checkpoint), "drivelab": (AtomicCheckpointIO(), with_state)}
    times: Dict[str, List[float]] = {name: [] for name in writers}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeat):
            for name, (writer, payload) in writers.items():
                started = time.perf_counter()
                writer.save_checkpoint(payload, Path(folder) / f"{name}.ckpt")
                times[name].append(time.perf_counter() - started)
    return {"lightning_ms": statistics.median(times["lightning"]) * 1000,
            "drivelab_ms": statistics.median(times["drivelab"]) * 1000,
            "checkpoint_bytes": size_of(checkpoint), "with_state_bytes": size_of(with_state)}


def measure(quick: bool) -> List[Dict[str, Any]]:
    repeat = 20  # saves take milliseconds: both sizes afford the script's default
    with tempfile.TemporaryDirectory(prefix="drivelab-checkpoint-") as scratch:
        run_dir = short_run(Path(scratch) / "run")
        saved = save_times(run_dir / "checkpoints" / "last.ckpt", repeat)
    added = saved["with_state_bytes"] - saved["checkpoint_bytes"]
    raw = {"lightning_ms": round(saved["lightning_ms"], 2), "drivelab_ms": round(saved["drivelab_ms"], 2),
           "checkpoint_mib": round(saved["checkpoint_bytes"] / 2**20, 2), "resume_state_bytes": added,
           "repeat": repeat}
    return [
        # The difference is mostly the fsync: on a busy disk it dominates, on a quiet one it is small.
        {"name": "checkpoint_save_drivelab_vs_lightning",
         "what": "checkpoint save: drivelab's atomic writer + resume state vs Lightning's writer",
         "ratio": saved["drivelab_ms"] / saved["lightning_ms"], "goal": None, "better": "lower", "raw": raw},
        {"name": "checkpoint_resume_state_vs_checkpoint_bytes",
         "what": "bytes the resume state adds vs the checkpoint's bytes",
         "ratio": added / saved["checkpoint_bytes"], "goal": None, "better": "lower", "raw": raw},
    ]


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint a run wrote (not with --quick)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="the suite's small size on a run trained first")
    args = parser.parse_args(argv)
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return
    if args.checkpoint is None:
        parser.error("a checkpoint is needed (or --quick)")
    saved = save_times(args.checkpoint, args.repeat)
    lightning, drivelab = saved["lightning_ms"], saved["drivelab_ms"]
    print(f"checkpoint: {saved['checkpoint_bytes'] / 2**20:.2f} MiB; resume state adds "
          f"{saved['with_state_bytes'] - saved['checkpoint_bytes']} bytes")
    print(f"save, median of {args.repeat}: Lightning {lightning:.2f} ms, drivelab atomic + resume state {drivelab:.2f} ms, "
          f"ratio {drivelab / lightning:.2f}")


if __name__ == "__main__":
    main()
