"""health.png: throughput, data-wait share and memory over training steps, for a user without a W&B server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence


def write_health_plot(history: Sequence[Dict[str, Any]], path: Path, verdict: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in history]

    def series(key: str) -> List[float]:
        return [row.get(key, float("nan")) for row in history]

    figure, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    axes[0].plot(steps, series("samples_per_s"), marker=".")
    axes[0].set_ylabel("samples/s")
    axes[0].set_title(verdict if len(verdict) <= 90 else verdict[:87] + "...", fontsize=9)
    axes[1].plot(steps, [100 * v for v in series("data_wait_share")], marker=".", color="tab:orange")
    axes[1].set_ylabel("waiting for data (%)")
    axes[1].set_ylim(0, 100)
    axes[2].plot(steps, series("rss_anon_mb"), marker=".", label="RssAnon")
    axes[2].plot(steps, series("rss_file_mb"), marker=".", label="RssFile")
    if any("gpu_memory_mb" in row for row in history):
        axes[2].plot(steps, series("gpu_memory_mb"), marker=".", label="GPU allocated")
    axes[2].set_ylabel("memory (MiB)")
    axes[2].set_xlabel("step")
    axes[2].legend(loc="best")
    for axis in axes:
        axis.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
