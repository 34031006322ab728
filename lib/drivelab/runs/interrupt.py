"""Ctrl-C and SIGTERM during a run: the run ends as `interrupted` (not `failed`), keeps its checkpoints, and the
process exits with the shell's code for the signal (130 for SIGINT, 143 for SIGTERM).

Lightning turns a KeyboardInterrupt inside `fit` into `sys.exit(1)` after its own graceful shutdown, and answers
SIGTERM by stopping after the current batch; either way the exception that reaches `train` no longer says which
signal arrived. `signals_watched` records the signal as it arrives, so `train` can tell an interruption from an error.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

WATCHED = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(SystemExit):
    """A run stopped by a signal; exits with 128 + the signal's number, like a shell."""

    def __init__(self, signum: int, run_dir: Path) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.run_dir = Path(run_dir)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def resume_command(self) -> str:
        return f"drivelab train resume=auto run_dir={self.run_dir}"


class SignalRecord:
    """The first watched signal received while the `with` block ran (None if none)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None


@contextmanager
def signals_watched() -> Iterator[SignalRecord]:
    """Record SIGINT/SIGTERM and stop the run with a KeyboardInterrupt (Lightning then shuts down gracefully).
    Outside the main thread signals cannot be handled; the run then keeps Python's default behaviour."""
    record = SignalRecord()
    if threading.current_thread() is not threading.main_thread():
        yield record
        return

    def stop(signum: int, _frame: Any) -> None:
        if record.signum is None:
            record.signum = signum
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous: List[Any] = [signal.signal(signum, stop) for signum in WATCHED]
    try:
        yield record
    finally:
        for signum, handler in zip(WATCHED, previous):
            signal.signal(signum, handler)


def interruption(exc: BaseException, record: SignalRecord) -> Optional[int]:
    """The signal that ended the run, when `exc` is the way it arrived (a KeyboardInterrupt, Lightning's exit 1)."""
    if isinstance(exc, RunInterrupted):
        return exc.signum
    if record.signum is not None and isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return record.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    return None
