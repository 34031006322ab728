"""Exporting a model into a folder: the ONNX file and the `torch.export` program, each run back and compared with the
PyTorch model (parity) and timed (latency), and the model card describing all of it.

`export_run` does this for a run directory (its best checkpoint, its test windows, its manifest), which is what
`drivelab export` and the gate call; `export_model` is the same for a model in hand.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from drivelab.atomic import replace_dir, write_json, write_text
from drivelab.errors import ConfigError, DrivelabError
from drivelab.export import card as cards
from drivelab.export import checks
from drivelab.export.formats import FORMATS, RUNNERS, first_line, trace, write_onnx, write_pt2
from drivelab.export.interface import (FRAME, DeployedModel, NotDeployable, batch_inputs, describe, model_shapes,
                                       random_inputs)
from drivelab.lineage import file_md5
from drivelab.models.base import TaskModel

EXPORT_DIR = "export"  # inside a run directory
PACKAGES = ("torch", "onnx", "onnxscript", "onnxruntime")
TRACE_BATCH = 3  # example batch for tracing: not 0 or 1, which exporters specialise


@dataclass
class ExportResult:
    folder: Path
    card: Dict[str, Any]
    problems: List[str] = field(default_factory=list)  # one line each: a format not written, parity above tolerance

    @property
    def ok(self) -> bool:
        return not self.problems


def machine(threads: int) -> Dict[str, Any]:
    processor = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        processor = names[0] if names else processor
    except OSError:
        pass
    return {"processor": processor, "cpu_count": os.cpu_count(), "threads": threads,
            "platform": platform.platform()}


def package_versions() -> Dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_owned(folder: Path) -> None:
    """An existing folder is replaced only when an earlier export wrote it."""
    if folder.exists() and any(folder.iterdir()) and not (folder / cards.CARD_JSON).is_file():
        raise DrivelabError(f"{folder} exists and holds files drivelab export did not write; choose another "
                            "output_dir (or move them away)")


def export_model(model: TaskModel, folder: Path, settings: Any, real: Optional[Tuple[torch.Tensor, ...]] = None,
                 context: Optional[Dict[str, Any]] = None) -> ExportResult:
    """Write `settings.formats` of `model` into `folder` (replaced whole), check parity on `real` inputs (test
    windows, may be None) and random ones, time every written format, and write the card (`context` adds the
    run's lineage, metrics and slices)."""
    folder = Path(folder)
    unknown = [name for name in settings.formats if name not in FORMATS]
    if unknown:
        raise ConfigError(f"export.formats: unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    check_owned(folder)
    model = model.eval()
    deployed = DeployedModel(model)
    shapes = model_shapes(model)
    tolerance = float(settings.parity.tolerance_m)
    threads = int(settings.latency.threads)
    context = dict(context or {})
    formats: Dict[str, Dict[str, Any]] = {}
    latency: Dict[str, List[Dict[str, Any]]] = {}
    problems: List[str] = []
    with replace_dir(folder) as staging:
        example = random_inputs(shapes, TRACE_BATCH, torch.Generator().manual_seed(int(settings.parity.seed)))
        try:
            program = trace(deployed, example)
            trace_error = None
        except NotDeployable as error:
            program, trace_error = None, str(error)
        for name in settings.formats:
            entry: Dict[str, Any] = {"file": FORMATS[name]}
            try:
                if program is None:
                    raise NotDeployable(trace_error)
                path = staging / FORMATS[name]
                if name == "onnx":
                    entry.update(write_onnx(program, example, [spec.name for spec in deployed.outputs], path))
                else:
                    write_pt2(program, path)
                entry["bytes"] = path.stat().st_size
                runner = RUNNERS[name](path, threads)
                entry["parity"] = checks.parity(deployed, runner, shapes, settings.parity.batch_sizes, real,
                                                seed=int(settings.parity.seed), tolerance=tolerance)
                latency[name] = [checks.latency(runner, shapes, int(batch), int(settings.latency.warmup_calls),
                                                int(settings.latency.timed_calls), seed=int(batch))
                                 for batch in settings.latency.batch_sizes]
            except Exception as error:  # one format failing leaves the others written and the reason on the card
                (staging / FORMATS[name]).unlink(missing_ok=True)
                reason = str(error) if isinstance(error, DrivelabError) else first_line(error)
                entry = {"file": None, "error": reason}
                problems.append(f"{name}: {reason}")
            else:
                if not entry["parity"]["within_tolerance"]:
                    problems.append(f"{name}: parity {entry['parity']['max_abs_diff']:.2e} exceeds "
                                    f"export.parity.tolerance_m={tolerance:g} (+ 1e-6 x the value)")
            formats[name] = entry
        # a model that cannot be deployed has no deployed latency to compare against
        latency["pytorch"] = [] if program is None else [
            checks.pytorch_latency(deployed, shapes, int(batch), int(settings.latency.warmup_calls),
                                   int(settings.latency.timed_calls), int(batch), threads)
            for batch in settings.latency.batch_sizes]
        card = {
            "model": {"name": context.get("label") or type(model).__name__,
                      "class": f"{type(model).__module__}.{type(model).__qualname__}", "task": model.task},
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": context.get("run", {"path": None}),
            "checkpoint": context.get("checkpoint", {"file": None, "md5": None}),
            "lineage": context.get("lineage", {}),
            "data_version": context.get("lineage", {}).get("data_version"),
            "metrics": context.get("metrics", {}),
            "slices": context.get("slices", {}),
            "frame": FRAME,
            **describe(model),
            "window": {key: shapes[key] for key in ("history_steps", "future_steps", "max_neighbours", "sample_hz")},
            "normalisation": dict(shapes["normalisation"]),
            "formats": formats,
            "parity_tolerance_m": tolerance,
            "latency": latency,
            "machine": machine(threads),
            "packages": package_versions(),
            "problems": problems,
        }
        write_json(staging / cards.CARD_JSON, card)
        write_text(staging / cards.CARD_MARKDOWN, cards.markdown(card))
    return ExportResult(folder, card, problems)


def headline_by_slice(run_dir: Path, model: TaskModel) -> Dict[str, Dict[str, Any]]:
    """Per slice, the model's headline metric beside the baseline's, from the run's slice_metrics.json."""
    import json

    path = Path(run_dir) / "slice_metrics.json"
    if not path.is_file():
        return {}
    headline = type(model).monitor[0]
    slices = json.loads(path.read_text()).get("slices", {})
    return {name: {"count": entry.get("count"), "model": (entry.get("model") or {}).get(headline),
                   "baseline": (entry.get("baseline") or {}).get(headline)} for name, entry in slices.items()}


def test_window_inputs(run: Any, data_dir: Optional[str], count: int, history_steps: int) -> Tuple[torch.Tensor, ...]:
    """The first `count` test windows of the run's data version (or `data_dir`'s), as model inputs."""
    windows_dir = run.windows_dir(data_dir)
    if not (windows_dir / "windows.json").is_file():
        raise DrivelabError(f"the run's test windows are not at {windows_dir}; pass data_dir=DIR (a data folder "
                            "holding windows/, or a windows folder) to check parity on them")
    datamodule = run.datamodule(data_dir)
    datamodule.setup("test")
    dataset = datamodule.datasets["test"]
    batch = dataset.__getitems__(list(range(min(count, len(dataset)))))
    return batch_inputs(batch, history_steps)


def export_run(run: Any, settings: Any, folder: Optional[Path] = None, data_dir: Optional[str] = None) -> ExportResult:
    """Export a run's model (best checkpoint, weights-only) into `folder` (default `<run>/export`)."""
    model = run.model(data_dir)
    checkpoint = run.best_checkpoint
    real = test_window_inputs(run, data_dir, int(settings.parity.test_windows), int(model.shapes["history_steps"]))
    context = {
        "label": run.label,
        "run": {"path": str(run.path), "name": run.name},
        "checkpoint": {"file": str(checkpoint.relative_to(run.path)) if checkpoint else None,
                       "md5": file_md5(checkpoint) if checkpoint else None},
        "lineage": cards.lineage(run.manifest),
        "metrics": dict(run.metrics),
        "slices": headline_by_slice(run.path, model),
    }
    return export_model(model, Path(folder) if folder else run.path / EXPORT_DIR, settings, real, context)


def current_export(run: Any, folder: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    """The card of the run's export when it was made from the run's present best checkpoint; else None."""
    import json

    path = (Path(folder) if folder else run.path / EXPORT_DIR) / cards.CARD_JSON
    if not path.is_file():
        return None
    card = json.loads(path.read_text())
    checkpoint = run.best_checkpoint
    md5 = file_md5(checkpoint) if checkpoint and checkpoint.is_file() else None
    return card if card.get("checkpoint", {}).get("md5") == md5 else None
