"""What a replay reports, printed and written beside the predictions as `<stem>.report.json`: the models, the input,
throughput and latency, scores against the recorded futures, input drift, and the shadow's disagreement."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from drivelab.predict.runtime import latency_summary

SCORE_METRICS = ("rmse_1s", "rmse_3s", "rmse_5s", "ade", "fde", "miss_rate")


def report_path(output: Path) -> Path:
    return Path(output).with_name(f"{Path(output).stem}.report.json")


def plot_path(output: Path) -> Path:
    return Path(output).with_name(f"{Path(output).stem}.shadow.png")


def _version(version: Any) -> Optional[Dict[str, Any]]:
    if version is None:
        return None
    return {"reference": version.reference, "commit": version.commit, "stages": version.stages,
            "run": version.lineage.get("run", {}).get("name")}


def summarise(cfg: Any, served: Any, shadow_version: Any, source: Any, result: Any, model: Any, shadow: Any,
              drift: Dict[str, Any], output: Path) -> Dict[str, Any]:
    seconds = max(result.seconds, 1e-9)
    summary: Dict[str, Any] = {
        "model": {"requested": cfg.model, **_version(served)},
        "input": {"kind": source.kind, "ref": source.ref, **source.details},
        "output": str(output),
        "windows": result.windows,
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "throughput_windows_per_s": round(result.windows / seconds, 1),
        "latency": {"model": latency_summary(model, int(cfg.predict.batch_size))},
        "scores": result.scores,
        "drift": drift,
        "shadow": None,
    }
    if shadow is not None:
        summary["latency"]["shadow"] = latency_summary(shadow, int(cfg.predict.batch_size))
        summary["shadow"] = {"model": {"requested": cfg.shadow, **_version(shadow_version)},
                             "per_horizon": result.disagreement.per_horizon(),
                             "top_scenes": result.disagreement.top_scenes()}
        served_score, shadow_score = result.scores.get("model"), result.scores.get("shadow")
        if served_score and shadow_score:
            summary["shadow"]["better_rmse_5s"] = ("model" if served_score["rmse_5s"] <= shadow_score["rmse_5s"]
                                                   else "shadow")
    return summary


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    cells = [header] + [[f"{cell:.3f}" if isinstance(cell, float) else str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]


def text(summary: Dict[str, Any]) -> str:
    latency = summary["latency"]["model"]
    lines = [f"{summary['windows']} windows in {summary['seconds']:.2f} s: "
             f"{summary['throughput_windows_per_s']:,.0f} windows/s; onnxruntime per call of "
             f"{latency.get('batch_size')} windows: p50 {latency.get('p50_ms', 0):.2f} ms, "
             f"p90 {latency.get('p90_ms', 0):.2f} ms, p99 {latency.get('p99_ms', 0):.2f} ms"]
    details = summary["input"]
    if details["kind"] == "recordings":
        lines.append(f"recordings: {details['recordings']}, rows kept {details['rows_kept']} of {details['rows_in']}, "
                     f"{details['rows_quarantined']} quarantined ({details['quarantine']})")
    scores = {name: score for name, score in summary["scores"].items() if score}
    if scores:
        names = {"model": summary["model"]["reference"]}
        if summary["shadow"]:
            names["shadow"] = f"{summary['shadow']['model']['reference']} (shadow)"
        lines.append("against the recorded futures (m):")
        lines += ["  " + line for line in _table(["model", *SCORE_METRICS],
                                                 [[names[name], *[score.get(metric) for metric in SCORE_METRICS]]
                                                  for name, score in scores.items()])]
    drift = summary["drift"]
    if not drift["checked"]:
        lines.append(f"drift: not checked ({drift['reason']})")
    elif drift["shifted"]:
        shifted = ", ".join(f"{name} ({drift['statistic']} {drift['features'][name][drift['statistic']]:.2f})"
                            for name in drift["shifted"])
        lines.append(f"WARNING: input drift from the training data version {drift['data_version']}: {shifted} "
                     f"above {drift['threshold']}")
    else:
        lines.append(f"drift: no feature shifted above {drift['threshold']} ({drift['statistic']}) from the training "
                     f"data version {drift['data_version']}")
    shadow = summary["shadow"]
    if shadow:
        lines.append(f"shadow {shadow['model']['reference']}: displacement from {summary['model']['reference']} (m)")
        lines += ["  " + line for line in _table(["horizon", "mean", "p50", "p90", "p99", "max"],
                                                 [[key, row["mean_m"], row["p50_m"], row["p90_m"], row["p99_m"],
                                                   row["max_m"]] for key, row in shadow["per_horizon"].items()])]
        lines.append("largest disagreement (final step):")
        lines += ["  " + line for line in _table(["recording", "vehicle", "frame", "final m", "mean m"],
                                                 [[scene["recording"], scene["vehicle_id"], scene["frame"],
                                                   scene["final_m"], scene["mean_m"]]
                                                  for scene in shadow["top_scenes"]])]
        if "better_rmse_5s" in shadow:
            lines.append(f"better RMSE@5s: {shadow['better_rmse_5s']}")
    return "\n".join(lines)
