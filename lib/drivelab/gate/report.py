"""The gate's verdict for people and machines: a printed table, `gate.json` (a DVC metric) and `gate.md` (ready to
post as a pull-request comment: every check, the metrics beside the incumbent's, the error-vs-horizon plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from drivelab.atomic import write_json, write_text
from drivelab.gate.checks import format_value
from drivelab.gate.decide import GateResult

GATE_JSON = "gate.json"
GATE_MARKDOWN = "gate.md"
PLOT = "plots/error_vs_horizon.png"
TABLE_METRICS = ("rmse_1s", "rmse_2s", "rmse_3s", "rmse_4s", "rmse_5s", "ade", "fde", "miss_rate")


def table(result: GateResult) -> str:
    rows = [("check", "value", "threshold", "result")]
    rows += [(check.name, format_value(check.value), check.threshold, "pass" if check.passed else "FAIL")
             for check in result.checks]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    failures = sum(not check.passed for check in result.checks)
    verdict = "PASSED" if result.passed else f"FAILED ({failures} of {len(result.checks)} checks)"
    return "\n".join(lines + [f"gate {verdict}"])


def as_json(result: GateResult, run: Any) -> Dict[str, Any]:
    return {
        "passed": result.passed,
        "failed": [check.name for check in result.checks if not check.passed],
        "run": {"path": str(run.path), "model": run.label, "git_commit": run.manifest.get("git_commit"),
                "data_version": run.data_version},
        "data": result.data,
        "incumbent": result.incumbent,
        "metrics": result.metrics,
        "checks": [check.to_json() for check in result.checks],
        "export": result.export,
        "plot": PLOT if result.evaluation is not None and result.evaluation.rmse_by_step else None,
    }


def markdown(report: Dict[str, Any]) -> str:
    verdict = "passed" if report["passed"] else f"FAILED: {', '.join(report['failed'])}"
    run, data = report["run"], report["data"]
    commit = (run.get("git_commit") or "unknown")[:10]
    lines = [f"### drivelab gate: {verdict}", "",
             f"Candidate **{run['model']}** (run `{Path(run['path']).name}`, commit `{commit}`) on the frozen "
             f"evaluation data `{data['revision']}:{data['path']}` (`{data['md5']}`, {data['test_windows']} test "
             f"windows).", "",
             "| check | value | threshold | result |", "|---|---|---|---|"]
    for check in report["checks"]:
        note = f" ({check['detail']})" if check["detail"] and not check["passed"] else ""
        lines.append(f"| `{check['name']}` | {format_value(check['value'])} | {check['threshold']} | "
                     f"{'pass' if check['passed'] else '**FAIL**'}{note} |")
    metrics = report["metrics"]
    incumbent = Path(report["incumbent"]).name if report["incumbent"] else None
    columns: List[tuple] = [("candidate", metrics["candidate"])]
    columns.append((f"incumbent ({incumbent})" if incumbent else "incumbent (none yet)", metrics.get("incumbent")))
    columns.append(("constant velocity", metrics["constant_velocity"]))
    lines += ["", "Metrics on the frozen evaluation data (metres; miss rate: share of windows with FDE > 2 m):", "",
              "| metric | " + " | ".join(name for name, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in TABLE_METRICS:
        cells = [format_value((values or {}).get(name)) for _, values in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if report["plot"]:
        lines += ["", f"![error vs horizon]({report['plot']})", f"Error vs horizon: `{report['plot']}` beside this "
                  "report."]
    return "\n".join(lines) + "\n"


def write(result: GateResult, run: Any, output_dir: Path) -> Dict[str, Any]:
    """Write gate.json, gate.md and the error-vs-horizon plot into `output_dir`; returns the JSON written."""
    output_dir = Path(output_dir)
    report = as_json(result, run)
    (output_dir / "plots").mkdir(parents=True, exist_ok=True)
    if report["plot"]:
        from drivelab.evaluation.plots import error_vs_horizon

        error_vs_horizon(result.evaluation, output_dir / PLOT)
    write_json(output_dir / GATE_JSON, report)
    write_text(output_dir / GATE_MARKDOWN, markdown(report))
    return report
