"""What saving a checkpoint costs with drivelab's atomic writer (temp file + fsync + rename) and the resume state
(random states and epoch position) beside Lightning's own writer, on checkpoints of a real drivelab model.

    .venv/bin/python benchmarks/checkpoint_cost.py RUN_DIR/checkpoints/last.ckpt [--repeat 20]

Reads a checkpoint a run wrote (weights, optimizer state, callbacks; weights-only) and saves it --repeat times with
each writer into a temporary folder, alternating them so that both see the same disk and the same load; prints the
median milliseconds of each, their ratio, and the bytes the resume state adds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from drivelab.checkpoints import read_checkpoint
from drivelab.runs.checkpoint_io import AtomicCheckpointIO
from drivelab.runs.resume_state import STATE_KEY, random_state


def size_of(payload: object) -> int:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    checkpoint = read_checkpoint(args.checkpoint)
    checkpoint.pop(STATE_KEY, None)  # measured with and without it below
    with_state = {**checkpoint, STATE_KEY: {"random": random_state(), "epoch": 3, "batches_done": 17,
                                                    "batches_per_epoch": 40}}
    writers = {"lightning": (TorchCheckpointIO(), checkpoint), "drivelab": (AtomicCheckpointIO(), with_state)}
    times = {name: [] for name in writers}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            for name, (writer, payload) in writers.items():
                started = time.perf_counter()
                writer.save_checkpoint(payload, Path(folder) / f"{name}.ckpt")
                times[name].append(time.perf_counter() - started)
    lightning, drivelab = (statistics.median(times[name]) * 1000 for name in ("lightning", "drivelab"))
    print(f"checkpoint: {size_of(checkpoint) / 2**20:.2f} MiB; resume state adds {size_of(with_state) - size_of(checkpoint)} bytes")
    print(f"save, median of {args.repeat}: Lightning {lightning:.2f} ms, drivelab atomic + resume state {drivelab:.2f} ms, "
          f"ratio {drivelab / lightning:.2f}")


if __name__ == "__main__":
    main()
