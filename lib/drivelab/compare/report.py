"""What a comparison leaves behind: `compare.json` (everything), `compare.md` (the table, ready to paste into a
pull request) and `error_vs_horizon.png` (every model's RMSE per future step, its band over seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np
from matplotlib.figure import Figure

from drivelab.atomic import write_json, write_text

JSON_FILE = "compare.json"
TABLE_FILE = "compare.md"
PLOT_FILE = "error_vs_horizon.png"


def _cell(summary: Dict[str, Any]) -> str:
    return f"{summary['mean']:.3f} ± {summary['sd']:.3f}"


def _difference(entry: Dict[str, Any]) -> str:
    mark = " *" if entry["significant"] else ""
    return f"{entry['difference']:+.3f} [{entry['low']:+.3f}, {entry['high']:+.3f}]{mark}"


def _runs_cell(runs: List[Dict[str, Any]], model: str) -> str:
    mine = [run for run in runs if run["model"] == model]
    cached = sum(1 for run in mine if run["cached"])
    if cached == len(mine):
        return f"{len(mine)} from cache"
    return f"{len(mine) - cached} trained" + (f", {cached} from cache" if cached else "")


def markdown(results: Dict[str, Any]) -> str:
    """One table per data version and slice: mean ± sd over seeds per model, then idea - baseline with its CI."""
    idea, baselines, metrics = results["idea"], results["baselines"], results["metrics"]
    confidence = int(round(100 * results["confidence"]))
    lines = [f"## {idea} vs {', '.join(baselines)}", "",
             f"{len(results['seeds'])} seeds ({', '.join(map(str, results['seeds']))}) per model, trained on data "
             f"version `{results['data_version']}`. Cells: mean ± sd over seeds. Differences: {idea} - baseline with "
             f"a {confidence}% bootstrap interval over windows ({results['bootstrap_samples']} resamples, paired by "
             "window, pooled over seeds); * = the interval excludes zero. Lower is better for every metric.", ""]
    for evaluation in results["evaluations"]:
        lines += [f"### {evaluation['title']}", ""]
        for name, entry in evaluation["slices"].items():
            lines += [f"**{name}** ({entry['count']} windows)", "",
                      "| model | runs | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
            if not entry["count"]:
                lines += ["| (no windows in this slice) | |" + " |" * len(metrics), ""]
                continue
            for model, summary in entry["models"].items():
                lines.append(f"| {model} | {_runs_cell(results['runs'], model)} | "
                             + " | ".join(_cell(summary[metric]) for metric in metrics) + " |")
            for baseline, differences in entry["differences"].items():
                lines.append(f"| {idea} - {baseline} | | "
                             + " | ".join(_difference(differences[metric]) for metric in metrics) + " |")
            lines.append("")
    return "\n".join(lines)


def plot_error_vs_horizon(results: Dict[str, Any], path: Path) -> None:
    """Per data version, every model's RMSE at each future step: the mean over seeds, shaded from the lowest to the
    highest seed."""
    evaluations = results["evaluations"]
    figure = Figure(figsize=(6 * len(evaluations), 4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(evaluations), squeeze=False)[0])
    for axis, evaluation in zip(axes, evaluations):
        by_step = evaluation["rmse_by_step"]
        for index, (model, curves) in enumerate(by_step["models"].items()):
            colour = f"C{index}"
            per_seed = np.asarray(curves)
            axis.plot(by_step["times_s"], per_seed.mean(axis=0), color=colour,
                      label=model + (" (idea)" if model == results["idea"] else ""),
                      linewidth=2.2 if model == results["idea"] else 1.4)
            axis.fill_between(by_step["times_s"], per_seed.min(axis=0), per_seed.max(axis=0), color=colour, alpha=0.2)
        axis.set(xlabel="horizon [s]", ylabel="RMSE [m]", title=evaluation["title"])
        axis.grid(alpha=0.3)
        axis.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def write(results: Dict[str, Any], output_dir: Path) -> Dict[str, Path]:
    output_dir = Path(output_dir)
    paths = {"json": output_dir / JSON_FILE, "table": output_dir / TABLE_FILE, "plot": output_dir / PLOT_FILE}
    write_json(paths["json"], results)
    write_text(paths["table"], markdown(results) + "\n")
    plot_error_vs_horizon(results, paths["plot"])
    return paths
