"""PNG plots of a data health report (DVC shows them with `dvc plots show`): feature distributions per split, and
the pipeline's flow (rows in and out of each stage, quarantined rows per reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from drivelab.atomic import save_figure
from drivelab.data.health.features import DISCRETE, FEATURE_UNITS, FeatureSample
from drivelab.data.windows.store import SPLITS
from drivelab.data.windows.extract import INTENTIONS

COLOURS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def write_plots(sample: FeatureSample, report: Dict[str, Any], folder: Path, bins: int = 40) -> List[Path]:
    """features.png and flow.png in `folder`; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [features_plot(sample, folder / "features.png", bins), flow_plot(report, folder / "flow.png")]


def features_plot(sample: FeatureSample, path: Path, bins: int = 40) -> Path:
    plt = _pyplot()
    names = list(FEATURE_UNITS)
    columns = 3
    rows = -(-(len(names) + 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows))
    axes = axes.ravel()
    for axis, name in zip(axes, names):
        pooled = sample.pooled(name)
        present = pooled[np.isfinite(pooled)]
        if name in DISCRETE:
            edges = np.arange(present.min() - 0.5, present.max() + 1.5) if len(present) else np.arange(2) - 0.5
        else:
            low, high = np.quantile(present, [0.005, 0.995]) if len(present) else (0.0, 1.0)
            edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        for split in SPLITS:
            values = sample.features[split][name]
            values = values[np.isfinite(values)]
            if len(values):
                axis.hist(np.clip(values, edges[0], edges[-1]), bins=edges, density=True, histtype="step",
                          color=COLOURS[split], label=f"{split} ({len(values)})")
        missing = 1.0 - len(present) / len(pooled) if len(pooled) else 0.0
        axis.set_title(f"{name} [{FEATURE_UNITS[name]}]" + (f"  missing {100 * missing:.0f}%" if missing else ""),
                       fontsize=9)
        axis.tick_params(labelsize=8)
    axis = axes[len(names)]
    width = 0.25
    for offset, split in enumerate(SPLITS):
        counts = sample.intention[split]
        shares = counts / counts.sum() if counts.sum() else counts
        axis.bar(np.arange(len(INTENTIONS)) + (offset - 1) * width, shares, width, color=COLOURS[split], label=split)
    axis.set_xticks(range(len(INTENTIONS)), INTENTIONS)
    if any(counts.sum() for counts in sample.intention.values()):
        axis.set_yscale("log")
    else:  # a source without lanes has no intention labels
        axis.text(0.5, 0.5, "lanes unknown: no labels", ha="center", va="center", transform=axis.transAxes)
    axis.set_title("lane-change intention within 3 s (share)", fontsize=9)
    axis.legend(fontsize=7)
    for axis in axes[len(names) + 1 :]:
        axis.axis("off")
    axes[0].legend(fontsize=7)
    sampled = "all windows" if sample.stride == 1 else f"every {sample.stride}th window"
    figure.suptitle(f"feature distributions per split ({sampled})", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)
    return path


def stage_figures(stage: Dict[str, Any]) -> str:
    """A stage's duration, throughput and peak memory as a second label line."""
    parts = [f"{stage['duration_s']:.1f} s"] if "duration_s" in stage else []
    if "rows_per_s" in stage:
        parts.append(f"{stage['rows_per_s'] / 1000:.0f}k rows/s")
    if "peak_rss_mb" in stage:
        parts.append(f"{stage['peak_rss_mb']:.0f} MiB")
    return "\n" + ", ".join(parts) if parts else ""


def flow_plot(report: Dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    stages = report.get("flow", {})
    reasons = {reason: count for reason, count in stages.get("clean", {}).get("quarantined", {}).items() if count}
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
    names = [name for name in stages if "rows_in" in stages[name] or "rows_out" in stages[name]]
    y = np.arange(len(names))
    left.barh(y - 0.2, [stages[name].get("rows_in", 0) for name in names], 0.4, label="rows in", color="#999999")
    left.barh(y + 0.2, [stages[name].get("rows_out", 0) for name in names], 0.4, label="rows (windows) out",
              color="#1f77b4")
    labels = [name + stage_figures(stages[name]) for name in names]
    left.set_yticks(y, labels)
    left.invert_yaxis()
    left.set_xscale("log")
    left.legend(fontsize=8)
    left.set_title("rows in and out of each stage", fontsize=9)
    if reasons:
        right.barh(list(reasons), list(reasons.values()), color="#d62728")
        right.invert_yaxis()
        right.set_xscale("log")
        right.set_title("quarantined rows per reason (clean)", fontsize=9)
    else:
        right.text(0.5, 0.5, "no quarantined rows" if "clean" in stages else "no clean report found",
                   ha="center", va="center")
        right.axis("off")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)
    return path
