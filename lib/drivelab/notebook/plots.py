"""Figures notebooks draw: scenes as trajectories, learning curves, errors over the horizon."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd


def _axes(ax=None, figsize=(7, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_scene(windows: Dict[str, np.ndarray], index: int, predictions: Optional[Dict[str, np.ndarray]] = None,
               ax=None, title: Optional[str] = None):
    """Window `index` of `windows` (gathered arrays, e.g. `DataVersion.sample`) in the target-centric frame: the
    target's history and true future, its neighbours' histories (grey, present positions as dots) and any
    predicted futures (dashed; `predictions` maps a name to arrays aligned with `windows`)."""
    ax = _axes(ax)
    history = np.asarray(windows["history"][index])
    future = np.asarray(windows["future"][index])
    neighbours = np.asarray(windows["neighbours"][index])
    mask = np.asarray(windows["neighbour_mask"][index])
    for slot in np.flatnonzero(mask.any(axis=1)):
        track = neighbours[slot][mask[slot]]
        ax.plot(track[:, 0], track[:, 1], color="0.6", lw=1)
        if mask[slot, -1]:
            ax.plot(*neighbours[slot, -1, :2], "o", color="0.5", ms=4)
    ax.plot(history[:, 0], history[:, 1], color="tab:blue", lw=2, label="history")
    ax.plot(np.r_[0.0, future[:, 0]], np.r_[0.0, future[:, 1]], color="tab:green", lw=2, label="true future")
    ax.plot(0.0, 0.0, "o", color="tab:blue", ms=6)
    for (name, pred), colour in zip((predictions or {}).items(), ("tab:red", "tab:orange", "tab:purple", "tab:brown")):
        pred = np.asarray(pred[index])
        ax.plot(np.r_[0.0, pred[:, 0]], np.r_[0.0, pred[:, 1]], "--", color=colour, lw=1.5, label=name)
    ax.set_xlabel("x forward (m)")
    ax.set_ylabel("y left (m)")
    ax.set_title(title or f"window {index}", fontsize=9)
    return ax


def plot_scenes(windows: Dict[str, np.ndarray], indices: Sequence[int],
                predictions: Optional[Dict[str, np.ndarray]] = None, titles: Optional[Sequence[str]] = None,
                ncols: int = 2):
    """Several windows in a grid (see `plot_scene`); one legend for all."""
    import matplotlib.pyplot as plt

    indices = list(indices)
    nrows = max(1, -(-len(indices) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.6 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(indices):
            plot_scene(windows, indices[i], predictions, ax=ax, title=titles[i] if titles else None)
        else:
            ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def plot_learning_curves(curves: pd.DataFrame, metric: str = "val/rmse_5s", ax=None):
    """`metric` per epoch, one line per run, from `learning_curves`."""
    ax = _axes(ax, figsize=(7, 3.5))
    chosen = curves[curves["metric"] == metric]
    for run, points in chosen.groupby("run", sort=True):
        ax.plot(points["epoch"], points["value"], marker="o", ms=3, label=run)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    if len(chosen):
        ax.legend(fontsize=7)
    return ax


def plot_horizon_errors(horizon: pd.DataFrame, column: str = "rmse_m", ax=None):
    """An error column of `horizon_errors` against the prediction horizon, one line per model."""
    ax = _axes(ax, figsize=(6, 3.5))
    for model, points in horizon.groupby("model", sort=False):
        ax.plot(points["horizon_s"], points[column], label=model)
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel(column.replace("_m", " (m)"))
    ax.legend()
    return ax
