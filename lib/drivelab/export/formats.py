"""The two exported forms of a model and how each is run back: ONNX (through onnxruntime) and a `torch.export`
program (`.pt2`, TorchScript's successor). Both keep the batch dimension dynamic.

An `ExportedProgram` is traced once and serves both: `torch.export.save` writes it, and the ONNX exporter (the
dynamo-based one, which needs `onnx` and `onnxscript`) converts the same program.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Sequence, Tuple

import numpy as np
import torch

from drivelab.export.interface import INPUT_NAMES, INPUTS, DeployedModel, NotDeployable

ONNX_FILE = "model.onnx"
PT2_FILE = "model.pt2"
FORMATS = {"onnx": ONNX_FILE, "pt2": PT2_FILE}
MAX_BATCH = 65536  # the dynamic batch dimension's upper bound declared to the exporters

Runner = Callable[[Tuple[torch.Tensor, ...]], Tuple[np.ndarray, ...]]


@contextmanager
def quiet() -> Iterator[None]:
    """The exporters' progress notes (the ONNX optimiser prints to stdout) and warnings about RNN weights are noise
    for a user; errors still raise."""
    import io
    import logging
    from contextlib import redirect_stdout

    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def trace(deployed: DeployedModel, example: Tuple[torch.Tensor, ...]) -> torch.export.ExportedProgram:
    """The model as a `torch.export` program with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    dynamic = {name: {0: batch} for name in INPUT_NAMES}
    with quiet(), torch.no_grad():
        deployed(*example)  # an eager call first: a forward that reads a label fails here, naming the label
        try:
            return torch.export.export(deployed, example, dynamic_shapes=dynamic, strict=False)
        except NotDeployable:
            raise
        except Exception as error:
            raise NotDeployable(f"torch.export cannot trace it: {first_line(error)}") from None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def write_pt2(program: torch.export.ExportedProgram, path: Path) -> None:
    torch.export.save(program, str(path))


def write_onnx(program: torch.export.ExportedProgram, example: Tuple[torch.Tensor, ...],
               output_names: Sequence[str], path: Path) -> Dict[str, Any]:
    """Convert the program to ONNX and write it as one file; returns the opset and graph size."""
    with quiet():
        onnx_program = torch.onnx.export(program, example, input_names=list(INPUT_NAMES),
                                         output_names=list(output_names), dynamo=True, optimize=True, verbose=False)
    onnx_program.save(str(path), external_data=False)
    model = onnx_program.model_proto
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    return {"opset": opset, "nodes": len(model.graph.node)}


def onnx_runner(path: Path, threads: int) -> Runner:
    """Runs the ONNX file in onnxruntime on the CPU with `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(inputs: Tuple[torch.Tensor, ...]) -> Tuple[np.ndarray, ...]:
        return tuple(session.run(None, {spec.name: tensor.numpy() for spec, tensor in zip(INPUTS, inputs)}))

    return run


def pt2_runner(path: Path, threads: int) -> Runner:
    """Runs the saved `torch.export` program with `threads` torch threads (set while it runs)."""
    with quiet():
        module = torch.export.load(str(path)).module()

    def run(inputs: Tuple[torch.Tensor, ...]) -> Tuple[np.ndarray, ...]:
        with torch_threads(threads), torch.no_grad():
            outputs = module(*inputs)
        return tuple(output.numpy() for output in outputs)

    return run


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


RUNNERS: Dict[str, Callable[[Path, int], Runner]] = {"onnx": onnx_runner, "pt2": pt2_runner}
