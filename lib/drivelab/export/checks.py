"""Proof that an export computes the model's function, and what it costs: parity against the PyTorch model on real
test windows and on random valid inputs at several batch sizes, and CPU latency percentiles after warm-up."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from drivelab.export.formats import Runner, torch_threads
from drivelab.export.interface import DeployedModel, random_inputs

# Relative difference allowed on top of the absolute tolerance, as in numpy's allclose: about 8 float32 epsilons.
# Outputs are float32 sums of terms as large as the output, so correct computations that round in a different
# order differ in proportion to the value (up to 4 epsilons measured on the demo MLP at 60-220 m).
RELATIVE = 1e-6


def reference(deployed: DeployedModel, inputs: Tuple[torch.Tensor, ...]) -> Tuple[np.ndarray, ...]:
    with torch.no_grad():
        return tuple(output.numpy() for output in deployed(*inputs))


def differences(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], tolerance: float) -> Tuple[float, float]:
    """(largest absolute difference over every output, largest difference in units of what is allowed there).

    Allowed is `tolerance` + RELATIVE x |expected value|: beyond a few metres float32 cannot hold 1e-5 m (consecutive
    values lie 1.5e-5 m apart beyond 128 m), and two correct computations of one function (eager PyTorch with MKL,
    onnxruntime with MLAS) round in different orders. Shapes that differ, or a value finite on one side only,
    count as infinite."""
    worst_m, worst_share = 0.0, 0.0
    for want, have in zip(expected, got):
        if want.shape != have.shape:
            return float("inf"), float("inf")
        both_nan = np.isnan(want) & np.isnan(have)
        same_infinity = np.isinf(want) & (want == have)
        difference = np.abs(want.astype(np.float64) - have.astype(np.float64))
        difference = np.where(both_nan | same_infinity, 0.0, np.nan_to_num(difference, nan=np.inf))
        allowed = tolerance + RELATIVE * np.nan_to_num(np.abs(want.astype(np.float64)), nan=0.0, posinf=0.0)
        worst_m = max(worst_m, float(difference.max(initial=0.0)))
        worst_share = max(worst_share, float((difference / allowed).max(initial=0.0)))
    return worst_m, worst_share


def parity(deployed: DeployedModel, runner: Runner, shapes: Dict[str, Any], batch_sizes: Iterable[int],
           real: Optional[Tuple[torch.Tensor, ...]], seed: int, tolerance: float) -> Dict[str, Any]:
    """The exported model against the PyTorch model, per input source and batch size: the largest absolute
    difference, and whether every output lies within `tolerance` (plus RELATIVE x the value, see `differences`).
    `real` holds test windows' inputs (the first `batch` are used)."""
    generator = torch.Generator().manual_seed(seed)
    cases: List[Dict[str, Any]] = []
    for batch in batch_sizes:
        sources = {"random": random_inputs(shapes, batch, generator)}
        if real is not None and len(real[0]):
            sources["test_windows"] = tuple(tensor[:batch] for tensor in real)
        for source, inputs in sources.items():
            difference_m, share = differences(reference(deployed, inputs), runner(inputs), tolerance)
            cases.append({"inputs": source, "batch": int(len(inputs[0])), "max_abs_diff": difference_m,
                          "within_tolerance": share <= 1.0})
    return {"max_abs_diff": max(case["max_abs_diff"] for case in cases),
            "within_tolerance": all(case["within_tolerance"] for case in cases), "cases": cases}


def latency(runner: Runner, shapes: Dict[str, Any], batch: int, warmup_calls: int, timed_calls: int,
            seed: int) -> Dict[str, Any]:
    """p50/p99 wall time of one call on fixed random inputs of `batch` windows, after `warmup_calls` untimed calls."""
    inputs = random_inputs(shapes, batch, torch.Generator().manual_seed(seed))
    for _ in range(warmup_calls):
        runner(inputs)
    times_ms = []
    for _ in range(timed_calls):
        started = time.perf_counter()
        runner(inputs)
        times_ms.append((time.perf_counter() - started) * 1e3)
    values = np.asarray(times_ms)
    return {"batch": batch, "calls": timed_calls, "warmup_calls": warmup_calls,
            "p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "mean_ms": float(values.mean())}


def pytorch_latency(deployed: DeployedModel, shapes: Dict[str, Any], batch: int, warmup_calls: int,
                    timed_calls: int, seed: int, threads: int) -> Dict[str, Any]:
    """The same measurement of the eager PyTorch model, for comparison."""
    with torch_threads(threads):
        return latency(lambda inputs: reference(deployed, inputs), shapes, batch, warmup_calls, timed_calls, seed)
