"""PNG plots of an `Evaluation`: error against horizon beside the baseline, and a grid of sample predictions.

Drawn with matplotlib's object interface (no pyplot state, no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from matplotlib.figure import Figure

from drivelab.atomic import save_figure
from drivelab.evaluation.results import Evaluation

# Margins are fixed rather than found by constrained layout, which measures every text and draws the figure twice
# (half of a run's report time, benchmarks/run_overhead.py).
COLOURS = {"model": "#d62728", "baseline": "#ff7f0e", "truth": "#2ca02c", "history": "#1f77b4", "neighbour": "#7f7f7f"}


def error_vs_horizon(evaluation: Evaluation, path: Path) -> None:
    """Left: RMSE at every future step; right: RMSE at the last whole-second horizon per slice."""
    figure = Figure(figsize=(11, 4))
    by_step, by_slice = figure.subplots(1, 2, width_ratios=[1, 1.3])
    figure.subplots_adjust(left=0.06, right=0.99, bottom=0.2, top=0.92, wspace=0.2)
    times_s = evaluation.rmse_by_step["times_s"]
    by_step.plot(times_s, evaluation.rmse_by_step["model"], color=COLOURS["model"], label=evaluation.model)
    if "baseline" in evaluation.rmse_by_step:
        by_step.plot(times_s, evaluation.rmse_by_step["baseline"], color=COLOURS["baseline"], linestyle="--",
                     label=f"{evaluation.baseline} (baseline)")
    by_step.set(xlabel="horizon [s]", ylabel="RMSE [m]", title="error vs horizon (all test windows)")
    by_step.grid(alpha=0.3)
    by_step.legend()

    horizon = f"rmse_{int(round(times_s[-1]))}s"
    names = list(evaluation.counts)
    positions = np.arange(len(names))
    for offset, who in ((-0.2, "model"), (0.2, "baseline")):
        values = [evaluation.metrics[name].get(who, {}).get(horizon, np.nan) for name in names]
        if who == "baseline" and evaluation.baseline is None:
            continue
        label = evaluation.model if who == "model" else f"{evaluation.baseline} (baseline)"
        by_slice.bar(positions + offset, values, width=0.4, color=COLOURS[who], label=label)
    by_slice.set_xticks(positions, [f"{name}\nn={evaluation.counts[name]}" for name in names], fontsize=8)
    by_slice.set(ylabel=f"{horizon} [m]", title=f"{horizon} per slice")
    by_slice.grid(alpha=0.3, axis="y")
    by_slice.legend()
    save_figure(figure, path, dpi=100)


def _panels(evaluation: Evaluation) -> List[Tuple[str, Dict[str, np.ndarray], int]]:
    panels = []
    for title, rows in (("random", evaluation.typical), ("worst", evaluation.worst)):
        if rows:
            arrays = {name: value.numpy() for name, value in rows.items()}
            panels += [(title, arrays, i) for i in range(len(arrays["fde"]))]
    return panels


def sample_grid(evaluation: Evaluation, path: Path, columns: int = 4) -> None:
    """Random windows, then the worst (highest final displacement error): neighbours' histories (grey), the target's
    history (blue), truth (green), prediction (red; every mode, fainter for less likely ones) and baseline (dashed)."""
    panels = _panels(evaluation)
    n_rows = max(1, -(-len(panels) // columns))
    figure = Figure(figsize=(4 * columns, 2.6 * n_rows))
    axes = np.atleast_1d(figure.subplots(n_rows, columns, squeeze=False)).ravel()
    height_in = 2.6 * n_rows  # margins in inches, so that they fit any number of rows
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.45 / height_in, top=1 - 0.55 / height_in, wspace=0.22,
                           hspace=0.45)
    for ax, (title, rows, i) in zip(axes, panels):
        neighbours, mask = rows["neighbours"][i], rows["neighbour_mask"][i]
        for slot in range(len(neighbours)):
            if mask[slot].any():
                seen = neighbours[slot][mask[slot]]
                ax.plot(seen[:, 0], seen[:, 1], color=COLOURS["neighbour"], linewidth=1, alpha=0.7)
                ax.plot(seen[-1, 0], seen[-1, 1], "s", color=COLOURS["neighbour"], markersize=4)
        history = rows["history"][i]
        ax.plot(history[:, 0], history[:, 1], color=COLOURS["history"], linewidth=2)
        ax.plot(0, 0, "o", color=COLOURS["history"], markersize=4)
        future = rows["future"][i]
        ax.plot(future[:, 0], future[:, 1], color=COLOURS["truth"], linewidth=2)
        modes, probs = rows["modes"][i], rows["mode_probs"][i]
        for mode, prob in zip(modes, probs):
            if len(modes) > 1:
                ax.plot(mode[:, 0], mode[:, 1], color=COLOURS["model"], linewidth=1, alpha=0.2 + 0.8 * float(prob))
        ax.plot(rows["prediction"][i][:, 0], rows["prediction"][i][:, 1], color=COLOURS["model"], linewidth=2)
        if "baseline" in rows:
            ax.plot(rows["baseline"][i][:, 0], rows["baseline"][i][:, 1], color=COLOURS["baseline"], linestyle="--")
        along, across = rows["prediction"][i][-1] - future[-1]  # where the final error lies: forward or sideways
        ax.set_title(f"{title}: FDE {rows['fde'][i]:.2f} m (dx {along:+.1f}, dy {across:+.1f})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    axes[0].set(xlabel="x forward [m]", ylabel="y left [m]")
    figure.suptitle(f"{evaluation.model}: history (blue), truth (green), prediction (red), "
                    f"{evaluation.baseline or 'no baseline'} (dashed), neighbours (grey)", fontsize=10)
    save_figure(figure, path, dpi=90)
