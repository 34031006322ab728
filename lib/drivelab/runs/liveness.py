"""Telling a live run from a dead one: a run that was killed (SIGKILL, the OOM killer, a lost node) never writes
`status: failed`, so its manifest says `running` forever. While it runs, a run touches `heartbeat` in its directory
every few seconds and records its host and process id; a reader then calls it `killed` when its process is gone
(same host) or its heartbeat stopped (any host).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_S = 10.0  # how often a live run touches its heartbeat file
STALE_AFTER_BEATS = 6  # a heartbeat this many intervals old means the run is gone (hung, or on a lost machine)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def identity() -> Dict[str, Any]:
    """What the manifest records so that readers can find the process again."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "heartbeat_s": HEARTBEAT_S}


def observed_status(manifest: Dict[str, Any], run_dir: Path, now: Optional[float] = None) -> str:
    """The manifest's status, except that a `running` run whose process is gone or whose heartbeat is stale is
    `killed`."""
    status = str(manifest.get("status") or "unknown")
    if status != "running":
        return status
    pid, host = manifest.get("pid"), manifest.get("host")
    if pid is not None and host == socket.gethostname() and not process_alive(int(pid)):
        return "killed"
    beat = Path(run_dir) / HEARTBEAT_FILE
    interval = float(manifest.get("heartbeat_s") or HEARTBEAT_S)
    if beat.is_file():
        age = (time.time() if now is None else now) - beat.stat().st_mtime
        if age > STALE_AFTER_BEATS * interval:
            return "killed"
    return status


class Heartbeat:
    """Touches `run_dir/heartbeat` every `interval_s` seconds from a daemon thread while the `with` block runs."""

    def __init__(self, run_dir: Path, interval_s: float = HEARTBEAT_S) -> None:
        self.path = Path(run_dir) / HEARTBEAT_FILE
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def _touch(self) -> None:
        try:
            self.path.touch()
        except OSError:
            pass  # a full disk must not end the run; readers then see the run as stale

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._touch()

    def __enter__(self) -> "Heartbeat":
        self._touch()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s)
