"""The promotion gate: may this run's model advance? Every check measured, each against its threshold in `gate`.

All figures come from one frozen evaluation data version (a DVC-tracked windows version named by git revision and
path, read from the DVC cache): absolute thresholds on the test metrics (overall and on the lane-change and dense
slices), a margin over constant velocity, no regression against the incumbent beyond a tolerance; then behaviour
tests on constructed scenes, and the export's parity and latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from drivelab.data.health.versions import DataVersion, open_revision
from drivelab.data.windows import store
from drivelab.data.windows.spec import WindowSpec
from drivelab.errors import DrivelabError
from drivelab.evaluation.report import default_baseline
from drivelab.evaluation.results import Evaluation, evaluate
from drivelab.export.bundle import current_export, export_run
from drivelab.export.interface import DeployedModel
from drivelab.gate import scenes
from drivelab.gate.checks import Check, at_most, failed
from drivelab.gate.incumbent import incumbent_run
from drivelab.models.trajectory import TrajectoryModel
from drivelab.runs import Run

SPEC_KEYS = ("history_steps", "future_steps", "sample_hz", "max_neighbours")
SLICE_THRESHOLDS = {"lane_change": "max_lane_change_rmse_5s_m", "dense": "max_dense_rmse_5s_m"}


@dataclass
class GateResult:
    checks: List[Check]
    data: Dict[str, Any]  # the frozen version: revision, path, md5
    metrics: Dict[str, Optional[Dict[str, float]]]  # candidate, constant_velocity, incumbent -> metric -> value
    evaluation: Optional[Evaluation] = None
    incumbent: Optional[str] = None
    export: Dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def check_same_windows(model: Any, version: DataVersion, who: str) -> None:
    spec = store.read_info(version.windows_dir)["spec"]
    for key in SPEC_KEYS:
        if int(spec[key]) != int(model.shapes[key]):
            raise DrivelabError(f"{who} was trained on windows with {key}={model.shapes[key]}, the frozen evaluation "
                                f"data {version.ref} has {key}={spec[key]}; freeze a version cut with the same "
                                "window settings (gate.data.revision / gate.data.path)")


def evaluate_on(run: Run, model: Any, version: DataVersion, baseline: bool) -> Evaluation:
    datamodule = run.datamodule(version.windows_dir)
    datamodule.setup("test")
    return evaluate(model, datamodule.test_dataloader(), default_baseline(model) if baseline else None,
                    sample_hz=int(model.shapes["sample_hz"]), worst=0, typical=0)


def metric_checks(evaluation: Evaluation, settings: Any, incumbent: Optional[Evaluation],
                  incumbent_name: Optional[str]) -> List[Check]:
    thresholds, overall = settings.metrics, evaluation.metrics["all"]
    model, cv = overall["model"], overall["baseline"]
    checks = [at_most("metrics.rmse_5s", model.get("rmse_5s"), thresholds.max_rmse_5s_m, "m",
                      "gate.metrics.max_rmse_5s_m"),
              at_most("metrics.miss_rate", model.get("miss_rate"), thresholds.max_miss_rate, "",
                      "gate.metrics.max_miss_rate")]
    for slice_name, key in SLICE_THRESHOLDS.items():
        if not evaluation.counts.get(slice_name):
            checks.append(failed(f"metrics.{slice_name}.rmse_5s", f"<= {thresholds[key]:g} m",
                                 f"the frozen test split holds no {slice_name} window", f"gate.metrics.{key}"))
            continue
        checks.append(at_most(f"metrics.{slice_name}.rmse_5s", evaluation.metrics[slice_name]["model"].get("rmse_5s"),
                              thresholds[key], "m", f"gate.metrics.{key}",
                              f"{evaluation.counts[slice_name]} windows"))
    margin = float(settings.baseline.min_improvement)
    ratio = model["rmse_5s"] / cv["rmse_5s"] if cv.get("rmse_5s") else None
    checks.append(at_most("baseline.rmse_5s_ratio_to_cv", ratio, 1.0 - margin, "",
                          "gate.baseline.min_improvement",
                          f"RMSE@5s {model['rmse_5s']:.3f} m vs constant velocity {cv['rmse_5s']:.3f} m"))
    tolerance = float(settings.incumbent.tolerance)
    for metric in settings.incumbent.metrics:
        name = f"incumbent.{metric}_ratio"
        if incumbent is None:
            checks.append(Check(name, None, f"<= {1 + tolerance:g} x incumbent", True, "gate.incumbent.tolerance",
                                "no incumbent yet: the first model passes"))
            continue
        theirs = incumbent.metrics["all"]["model"].get(metric)
        ours = model.get(metric)
        if theirs is None or ours is None:
            checks.append(failed(name, f"<= {1 + tolerance:g} x incumbent", f"{metric} is not a metric of both "
                                 "models", "gate.incumbent.metrics"))
            continue
        ratio = ours / theirs if theirs > 0 else (1.0 if ours <= 0 else float("inf"))
        checks.append(at_most(name, ratio, 1.0 + tolerance, "x incumbent", "gate.incumbent.tolerance",
                              f"{ours:.3f} vs {theirs:.3f} ({incumbent_name})"))
    return checks


BEHAVIOUR: List[tuple] = [
    # (check name, scene function, index of its figure or None, threshold key, unit)
    ("behaviour.stopped_behind_stopped_leader", scenes.stopped_behind_stopped_leader, None,
     "stopped_max_displacement_m", "m"),
    ("behaviour.free_road_lateral", scenes.free_road, 0, "free_road_max_lateral_m", "m"),
    ("behaviour.free_road_speed", scenes.free_road, 1, "free_road_max_speed_change_mps", "m/s"),
    ("behaviour.closing_on_stopped_leader", scenes.closing_on_stopped_leader, None, "closing_max_overlap_m", "m"),
    ("behaviour.translation", scenes.translation, None, "translation_max_change_m", "m"),
    ("behaviour.non_finite_on_extreme_inputs", scenes.non_finite_on_extreme_inputs, None, "max_non_finite", ""),
]


def behaviour_checks(model: Any, settings: Any) -> List[Check]:
    deployed = DeployedModel(model)
    spec = WindowSpec(sample_hz=int(model.shapes["sample_hz"]),
                      history_s=(int(model.shapes["history_steps"]) - 1) / int(model.shapes["sample_hz"]),
                      future_s=int(model.shapes["future_steps"]) / int(model.shapes["sample_hz"]),
                      stride_s=1.0 / int(model.shapes["sample_hz"]), max_neighbours=int(model.shapes["max_neighbours"]),
                      neighbour_radius_m=float(settings.neighbour_radius_m))
    results: Dict[Callable, Any] = {}
    checks = []
    for name, function, index, key, unit in BEHAVIOUR:
        if function not in results:
            results[function] = function(deployed, spec, settings)
        value = results[function] if index is None else results[function][index]
        checks.append(at_most(name, float(value), float(settings[key]), unit, f"gate.behaviour.{key}",
                              (function.__doc__ or "").split("\n")[0].strip()))
    return checks


def export_checks(card: Dict[str, Any], settings: Any) -> List[Check]:
    checks = []
    budget = float(settings.max_p99_ms)
    for name in settings.formats:
        entry = card.get("formats", {}).get(name)
        if entry is None or "error" in entry:
            reason = entry["error"] if entry else f"the export holds no {name} model (export.formats)"
            checks.append(failed(f"export.{name}.parity", "within export.parity.tolerance_m", reason))
            checks.append(failed(f"export.{name}.p99_ms_batch_{settings.latency_batch}", f"<= {budget:g} ms", reason,
                                 "gate.export.max_p99_ms"))
            continue
        parity = entry["parity"]
        checks.append(Check(f"export.{name}.parity", parity["max_abs_diff"],
                            f"<= {card['parity_tolerance_m']:g} (+ 1e-6 x the value)", bool(parity["within_tolerance"]),
                            "export.parity.tolerance_m",
                            f"batches {sorted({case['batch'] for case in parity['cases']})}, test windows and random"))
        timing = next((result for result in card["latency"].get(name, [])
                       if result["batch"] == int(settings.latency_batch)), None)
        if timing is None:
            checks.append(failed(f"export.{name}.p99_ms_batch_{settings.latency_batch}", f"<= {budget:g} ms",
                                 f"latency at batch {settings.latency_batch} was not measured "
                                 "(export.latency.batch_sizes)",
                                 "gate.export.latency_batch"))
            continue
        checks.append(at_most(f"export.{name}.p99_ms_batch_{settings.latency_batch}", timing["p99_ms"], budget, "ms",
                              "gate.export.max_p99_ms",
                              f"p50 {timing['p50_ms']:.3f} ms over {timing['calls']} calls, "
                              f"{card['machine']['threads']} thread(s)"))
    return checks


def run_gate(run: Run, settings: Any, export_settings: Any, repo: Path) -> GateResult:
    """Every check of `settings` (the `gate` config section) on `run`'s model."""
    model = run.model()
    if not isinstance(model, TrajectoryModel):
        raise DrivelabError(f"{run.path} holds a {model.task} model; the gate's thresholds are for trajectory models")
    incumbent = incumbent_run(settings.incumbent)
    with open_revision(str(settings.data.revision), repo, str(settings.data.path)) as version:
        check_same_windows(model, version, f"the run {run.name}")
        evaluation = evaluate_on(run, model, version, baseline=True)
        incumbent_evaluation = None
        if incumbent is not None:
            incumbent_model = incumbent.model(version.windows_dir)
            check_same_windows(incumbent_model, version, f"the incumbent {incumbent.name}")
            incumbent_evaluation = evaluate_on(incumbent, incumbent_model, version, baseline=False)
        data = {"revision": version.ref, "path": str(settings.data.path), "md5": version.md5,
                "test_windows": evaluation.counts.get("all", 0)}
    checks = metric_checks(evaluation, settings, incumbent_evaluation, incumbent.name if incumbent else None)
    checks += behaviour_checks(model, settings.behaviour)
    card = current_export(run) or export_run(run, export_settings).card
    checks += export_checks(card, settings.export)
    metrics = {"candidate": evaluation.metrics["all"]["model"],
               "constant_velocity": evaluation.metrics["all"]["baseline"],
               "incumbent": incumbent_evaluation.metrics["all"]["model"] if incumbent_evaluation else None}
    return GateResult(checks, data, metrics, evaluation, str(incumbent.path) if incumbent else None,
                      {"folder": str(run.path / "export"), "exported_at": card.get("exported_at")})
