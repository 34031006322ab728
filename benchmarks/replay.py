"""Replay speed: a run's ONNX export in onnxruntime (what `drivelab predict` serves) against the same model in eager
PyTorch, on the same windows, batch by batch, one thread each, side by side in this one run.

    .venv/bin/python benchmarks/replay.py --run-dir runs/... [--windows data/windows] [--batch 256] [--repeat 3]

Prints windows/s of each (best of --repeat passes over every window), their ratio and the largest difference between
their predictions. The run's export is used when it is current, else the run is exported into a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from drivelab.config.validate import compose
from drivelab.data.windows import store
from drivelab.export.bundle import current_export, export_run
from drivelab.export.interface import DeployedModel
from drivelab.predict.runtime import OnnxModel
from drivelab.runs import open_run


def batches(windows_dir: Path, batch_size: int):
    for split in store.SPLITS:
        for shard in store.open_split(windows_dir, split).iter_shards():
            for start in range(0, len(shard["frame"]), batch_size):
                yield {key: np.array(value[start:start + batch_size]) for key, value in shard.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--windows", type=Path, default=None, help="windows folder (default: the run's own)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = open_run(args.run_dir)
    windows_dir = args.windows or run.windows_dir(None)
    data = list(batches(windows_dir, args.batch))
    count = sum(len(batch["frame"]) for batch in data)
    with tempfile.TemporaryDirectory() as scratch:
        folder = run.path / "export"
        if current_export(run) is None:
            settings = OmegaConf.merge(compose("export").export, {"formats": ["onnx"]})
            folder = export_run(run, settings, Path(scratch) / "export").folder
        served = OnnxModel(folder, threads=1)
        eager = DeployedModel(run.model()).eval()
        history_steps = int(served.window["history_steps"])

        def eager_call(batch):
            inputs = (torch.from_numpy(batch["history"]), torch.from_numpy(batch["neighbours"]),
                      torch.from_numpy(batch["neighbour_mask"]),
                      torch.from_numpy(np.ascontiguousarray(batch["lane"][:, :history_steps])),
                      torch.from_numpy(batch["lane_count"]))
            with torch.inference_mode():
                return eager(*inputs)[0].numpy()

        def best_rate(call) -> float:
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                for batch in data:
                    call(batch)
                best = min(best, time.perf_counter() - started)
            return count / best

        onnx_rate = best_rate(lambda batch: served(batch)["positions"])
        eager_rate = best_rate(eager_call)
        difference = max(float(np.abs(served(batch)["positions"] - eager_call(batch)).max()) for batch in data)
    print(f"{count} windows of {windows_dir}, batch {args.batch}, 1 thread each, best of {args.repeat}")
    print(f"onnxruntime    {onnx_rate:12,.0f} windows/s")
    print(f"eager PyTorch  {eager_rate:12,.0f} windows/s")
    print(f"ratio onnxruntime / eager: {onnx_rate / eager_rate:.2f}x; largest difference {difference:.2e} m")


if __name__ == "__main__":
    main()
