"""One line that says whether a run was healthy and, when not, what to change: from the summary `health.json`
holds (no torch, so `drivelab runs` and `drivelab doctor` can judge any run)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

DATA_BOUND_SHARE = 0.3  # default share of step time spent waiting for batches above which a run is data-bound
MEMORY_GROWTH_SHARE = 0.5  # RssAnon growing by more than this share over a run (and by MEMORY_GROWTH_MB) is a leak
MEMORY_GROWTH_MB = 256.0


def problems(summary: Dict[str, Any], data_bound_share: float = DATA_BOUND_SHARE,
             num_workers: Optional[int] = None) -> List[str]:
    """Every problem the figures show, worst first, each with what to do about it."""
    found = []
    if summary.get("non_finite"):
        found.append(f"non-finite: {summary['non_finite']}")
    if summary.get("failure"):
        found.append(f"failed: {summary['failure']}")
    for stall in summary.get("stalls") or []:
        found.append(f"stalled: no training step for {stall['seconds']:.0f} s after step {stall['step']} "
                     f"(in {stall.get('where') or 'unknown code'})")
    wait = summary.get("data_wait_share")
    if wait is not None and wait >= data_bound_share:
        workers = f" (now {num_workers})" if num_workers is not None else ""
        found.append(f"data-bound: {100 * wait:.0f}% of step time waiting for batches; "
                     f"raise data.num_workers{workers} or make loading cheaper")
    first, last = summary.get("rss_anon_mb_first"), summary.get("rss_anon_mb_last")
    if first and last and last - first > MEMORY_GROWTH_MB and last > (1 + MEMORY_GROWTH_SHARE) * first:
        found.append(f"memory growing: RssAnon {first:.0f} -> {last:.0f} MiB over the run; look for tensors kept "
                     f"across steps (a loss appended without .detach(), a growing cache)")
    return found


def verdict(summary: Dict[str, Any], data_bound_share: float = DATA_BOUND_SHARE,
            num_workers: Optional[int] = None) -> str:
    """`healthy: ...` with the headline figures, or the worst problem and its fix."""
    found = problems(summary, data_bound_share, num_workers)
    if found:
        return found[0]
    parts = []
    if summary.get("samples_per_s") is not None:
        parts.append(f"{summary['samples_per_s']:.0f} samples/s")
    if summary.get("step_ms_p50") is not None:
        parts.append(f"step p50 {summary['step_ms_p50']:.1f} ms")
    if wait_share := summary.get("data_wait_share"):
        parts.append(f"{100 * wait_share:.0f}% waiting for data")
    return "healthy" + (": " + ", ".join(parts) if parts else "")


def is_healthy(line: Optional[str]) -> bool:
    return bool(line) and str(line).startswith("healthy")
