"""A stall watchdog: a daemon thread that warns when no training step finished for `stall_after_s`, showing what
the main thread is doing (its stack) so a hung data loader, a deadlocked collective or a slow disk is named, not
guessed. One warning per stall; the next finished step re-arms it."""

from __future__ import annotations

import logging
import sys
import sysconfig
import threading
import time
import traceback
from typing import Callable, Dict, List, Optional

log = logging.getLogger(__name__)
STACK_FRAMES = 12  # innermost frames shown


def thread_stack(thread: threading.Thread, frames: int = STACK_FRAMES) -> List[str]:
    """The innermost `frames` frames of a running thread, innermost last, as 'file:line in function' lines."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return []
    summary = traceback.extract_stack(frame)[-frames:]
    return [f"{entry.filename}:{entry.lineno} in {entry.name}" + (f": {entry.line}" if entry.line else "")
            for entry in summary]


def own_code(stack: List[str]) -> Optional[str]:
    """The innermost frame outside the standard library and installed packages (the project's own code), else the
    innermost frame: where a stalled step is, rather than the lock it waits on."""
    library = (sysconfig.get_paths()["stdlib"], "site-packages", "<frozen ")
    for line in reversed(stack):
        if not any(part in line for part in library):
            return line
    return stack[-1] if stack else None


class StallWatchdog:
    """`beat(step)` after every step; `start()` / `stop()` around training. A stall calls `on_stall(record)` with
    the step, the seconds since it and the main thread's stack (also logged as a warning)."""

    def __init__(self, stall_after_s: float, on_stall: Optional[Callable[[Dict], None]] = None,
                 watched: Optional[threading.Thread] = None) -> None:
        self.stall_after_s = float(stall_after_s)
        self.on_stall = on_stall
        self.watched = watched or threading.main_thread()
        self._last_beat = time.monotonic()
        self._step = 0
        self._warned_for: Optional[float] = None  # the beat a warning was given for
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def beat(self, step: int) -> None:
        self._step = step
        self._last_beat = time.monotonic()  # a float store: no lock needed, cheap enough for every step

    def start(self) -> None:
        if self._thread is not None or self.stall_after_s <= 0:
            return
        self._stop.clear()
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _watch(self) -> None:
        poll_s = min(max(self.stall_after_s / 4, 0.05), 10.0)
        while not self._stop.wait(poll_s):
            last = self._last_beat
            silent_s = time.monotonic() - last
            if silent_s < self.stall_after_s or self._warned_for == last:
                continue
            self._warned_for = last
            stack = thread_stack(self.watched)
            record = {"step": self._step, "seconds": round(silent_s, 1), "stack": stack, "where": own_code(stack)}
            log.warning("no training step for %.0f s after step %d (callbacks.training_health.stall_after_s=%g); "
                        "the main thread is at:\n  %s", silent_s, self._step, self.stall_after_s,
                        "\n  ".join(stack) or "(stack unavailable)")
            if self.on_stall is not None:
                self.on_stall(record)
