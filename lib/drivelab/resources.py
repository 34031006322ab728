"""What this process uses, read from the kernel without a host-device sync or a third-party package: resident memory
split into anonymous (tensors, arrays: what grows on a leak) and file-backed (memory-mapped shards, libraries: what
the kernel may drop), the peak since the last reset, the largest finished child process, and CPU time.

Linux exposes these in /proc; elsewhere the figures are None and callers show them as unknown.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from pathlib import Path
from typing import Dict, Optional

STATUS_FILE = Path("/proc/self/status")
CLEAR_REFS_FILE = Path("/proc/self/clear_refs")
MIB = 1024 * 1024


def _status_kib() -> Dict[str, int]:
    try:
        text = STATUS_FILE.read_text()
    except OSError:
        return {}
    figures = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            figures[key] = int(parts[0])
    return figures


def memory_mb() -> Dict[str, Optional[float]]:
    """Resident memory of this process in MiB: `rss_anon_mb`, `rss_file_mb` and the peak `rss_peak_mb`."""
    status = _status_kib()

    def mib(key: str) -> Optional[float]:
        return round(status[key] / 1024, 1) if key in status else None

    return {"rss_anon_mb": mib("RssAnon"), "rss_file_mb": mib("RssFile"), "rss_peak_mb": mib("VmHWM")}


def reset_peak() -> bool:
    """Start a new peak (VmHWM) from the current resident size, so that the next `memory_mb()` peak covers only what
    ran in between (one stage of `prepare`, which runs several in one process). False where the kernel refuses."""
    try:
        CLEAR_REFS_FILE.write_text("5")
    except OSError:
        return False
    return True


def children_peak_mb() -> Optional[float]:
    """The largest peak resident size of any finished child process (worker pools), in MiB."""
    if sys.platform.startswith("win"):
        return None
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(peak_kib / 1024, 1) if peak_kib else None


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far."""
    times = os.times()
    return times.user + times.system


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def rss_anon_bytes() -> int:
    """RssAnon of this process now, in bytes (0 where /proc is not there)."""
    return _status_kib().get("RssAnon", 0) * 1024


class PeakRssAnon:
    """`with PeakRssAnon() as peak: work()` samples RssAnon (heap and other private pages, not the file-backed pages
    of memory-mapped shards) every `interval_s` on a thread; then `peak.peak_bytes` (the highest sample, start and end
    included) and `peak.start_bytes`."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.start_bytes = self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, rss_anon_bytes())

    def __enter__(self) -> "PeakRssAnon":
        self.start_bytes = self.peak_bytes = rss_anon_bytes()
        self._thread = threading.Thread(target=self._sample, name="rss-anon-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, rss_anon_bytes())
