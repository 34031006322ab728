"""Anonymous memory of this process (RssAnon in /proc/self/status: heap and other private pages, not the file-backed
pages of memory-mapped shards that RSS also counts), and its peak while some work runs. Linux only."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

STATUS = Path("/proc/self/status")


def rss_anon_bytes() -> int:
    """RssAnon of this process now, in bytes."""
    with open(STATUS) as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon:"))


class PeakRssAnon:
    """`with PeakRssAnon() as peak: work()` samples RssAnon every `interval_s` on a thread; then `peak.peak_bytes`
    (the highest sample, the start and end included) and `peak.start_bytes`."""

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
