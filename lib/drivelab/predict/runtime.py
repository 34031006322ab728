"""An exported model run by onnxruntime alone, as its model card describes it: raw window arrays in, metres out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Mapping

import numpy as np

from drivelab.errors import DrivelabError

DTYPES = {"float32": np.float32, "bool": np.bool_, "int8": np.int8}


class OnnxModel:
    """`model.onnx` and `card.json` of one exported (or fetched) model folder."""

    def __init__(self, folder: Path, threads: int = 1, label: str = "") -> None:
        folder = Path(folder)
        card_file, onnx_file = folder / "card.json", folder / "model.onnx"
        if not card_file.is_file() or not onnx_file.is_file():
            raise DrivelabError(f"{folder} holds no card.json and model.onnx: not an exported model with an ONNX file")
        self.card: Dict[str, Any] = json.loads(card_file.read_text())
        if self.card["model"]["task"] != "trajectory":
            raise DrivelabError(f"{label or folder}: a {self.card['model']['task']} model; predict replays "
                                "trajectory models")
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.label = label or self.card["model"]["name"]
        self.inputs = {spec["name"]: DTYPES[spec["dtype"]] for spec in self.card["inputs"]}
        self.outputs = [spec["name"] for spec in self.card["outputs"]]
        self.window = self.card["window"]
        self.seconds = 0.0  # time spent inside onnxruntime
        self.latencies_ms: list = []  # one per call

    def check_windows(self, spec: Mapping[str, Any], where: str) -> None:
        for key in ("history_steps", "future_steps", "sample_hz", "max_neighbours"):
            if int(spec[key]) != int(self.window[key]):
                raise DrivelabError(f"{self.label} takes windows with {key}={self.window[key]}, {where} has "
                                    f"{key}={spec[key]}")

    def __call__(self, arrays: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Predict a batch of windows (arrays as stored: the lane array may run into the future, which is cut)."""
        feed = {}
        for name, dtype in self.inputs.items():
            value = arrays[name]
            if name == "lane":
                value = value[:, : int(self.window["history_steps"])]
            feed[name] = np.ascontiguousarray(value, dtype=dtype)
        started = time.perf_counter()
        results = self.session.run(self.outputs, feed)
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        self.latencies_ms.append(elapsed * 1000.0)
        return dict(zip(self.outputs, results))


def latency_summary(model: OnnxModel, batch_size: int) -> Dict[str, Any]:
    values = np.asarray(model.latencies_ms, np.float64)
    if not len(values):
        return {"calls": 0}
    return {"calls": int(len(values)), "batch_size": int(batch_size),
            **{f"p{q}_ms": round(float(np.percentile(values, q)), 4) for q in (50, 90, 99)},
            "max_ms": round(float(values.max()), 4)}
