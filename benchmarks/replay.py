"""Replay speed: a run's ONNX export in onnxruntime (what `drivelab predict` serves) against the same model in eager
PyTorch, on the same windows, batch by batch, one thread each, side by side in this one run.

    .venv/bin/python benchmarks/replay.py --run-dir runs/... [--windows data/windows] [--batch 256] [--repeat 3]
    .venv/bin/python benchmarks/replay.py --quick     # the suite's figures (or: make bench)

Prints windows/s of each (best of --repeat passes over every window, the two taking turns), their ratio and the
largest difference between their predictions. The run's export is used when it is current, else the run is exported
into a temporary folder. The suite's figures use a one-epoch run of the default model on the suite's demo data,
trained first in a temporary folder, and its own windows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_cost import short_run  # noqa: E402

from drivelab.config.validate import compose  # noqa: E402
from drivelab.data.windows import store  # noqa: E402
from drivelab.export.bundle import current_export, export_run  # noqa: E402
from drivelab.export.interface import DeployedModel  # noqa: E402
from drivelab.predict.runtime import OnnxModel  # noqa: E402
from drivelab.runs import open_run  # noqa: E402

BATCH = 256


def batches(windows_dir: Path, batch_size: int):
    for split in store.SPLITS:
        for shard in store.open_split(windows_dir, split).iter_shards():
            for start in range(0, len(shard["frame"]), batch_size):
                yield {key: np.array(value[start:start + batch_size]) for key, value in shard.items()}


def rates(run_dir: Path, windows_dir: Path | None, batch_size: int, repeat: int) -> Dict[str, Any]:
    """Windows/s of onnxruntime and of eager PyTorch (best pass of each), the largest difference between their
    predictions, and the windows' count and folder."""
    torch.set_num_threads(1)
    run = open_run(run_dir)
    windows_dir = windows_dir or run.windows_dir(None)
    data = list(batches(windows_dir, batch_size))
    count = sum(len(batch["frame"]) for batch in data)
    with tempfile.TemporaryDirectory() as scratch:
        folder = run.path / "export"
        if current_export(run) is None:
            settings = OmegaConf.merge(compose("export").export, {"formats": ["onnx"]})
            folder = export_run(run, settings, Path(scratch) / "export").folder
        served = OnnxModel(folder, threads=1)
        eager = DeployedModel(run.model()).eval()
        history_steps = int(served.window["history_steps"])

        def onnx_call(batch):
            return served(batch)["positions"]

        def eager_call(batch):
            inputs = (torch.from_numpy(batch["history"]), torch.from_numpy(batch["neighbours"]),
                      torch.from_numpy(batch["neighbour_mask"]),
                      torch.from_numpy(np.ascontiguousarray(batch["lane"][:, :history_steps])),
                      torch.from_numpy(batch["lane_count"]))
            with torch.inference_mode():
                return eager(*inputs)[0].numpy()

        best = {"onnx": float("inf"), "eager": float("inf")}
        for _ in range(repeat):  # in turns, so that the machine's load drifts over both alike
            for name, call in (("onnx", onnx_call), ("eager", eager_call)):
                started = time.perf_counter()
                for batch in data:
                    call(batch)
                best[name] = min(best[name], time.perf_counter() - started)
        difference = max(float(np.abs(onnx_call(batch) - eager_call(batch)).max()) for batch in data)
    return {"onnx_rate": count / best["onnx"], "eager_rate": count / best["eager"], "difference": difference,
            "windows": count, "windows_dir": windows_dir}


def measure(quick: bool) -> List[Dict[str, Any]]:
    repeat = 3  # passes take a fraction of a second: both sizes afford the script's default
    with tempfile.TemporaryDirectory(prefix="drivelab-replay-") as scratch:
        measured = rates(short_run(Path(scratch) / "run"), None, BATCH, repeat)
    raw = {"onnx_windows_per_s": round(measured["onnx_rate"]), "eager_windows_per_s": round(measured["eager_rate"]),
           "largest_difference_m": measured["difference"], "windows": measured["windows"], "batch_size": BATCH,
           "repeat": repeat}
    return [{"name": "replay_onnx_vs_eager", "what": "replay windows/s: ONNX export in onnxruntime vs eager PyTorch",
             "ratio": measured["onnx_rate"] / measured["eager_rate"], "goal": None, "better": "higher", "raw": raw}]


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, help="the run whose model is replayed (not with --quick)")
    parser.add_argument("--windows", type=Path, default=None, help="windows folder (default: the run's own)")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the suite's small size on a run trained first")
    args = parser.parse_args(argv)
    if args.quick:
        from suite import print_figures

        print_figures(measure(quick=True))
        return
    if args.run_dir is None:
        parser.error("--run-dir is needed (or --quick)")
    measured = rates(args.run_dir, args.windows, args.batch, args.repeat)
    onnx_rate, eager_rate = measured["onnx_rate"], measured["eager_rate"]
    print(f"{measured['windows']} windows of {measured['windows_dir']}, batch {args.batch}, 1 thread each, "
          f"best of {args.repeat}")
    print(f"onnxruntime    {onnx_rate:12,.0f} windows/s")
    print(f"eager PyTorch  {eager_rate:12,.0f} windows/s")
    print(f"ratio onnxruntime / eager: {onnx_rate / eager_rate:.2f}x; "
          f"largest difference {measured['difference']:.2e} m")


if __name__ == "__main__":
    main()
