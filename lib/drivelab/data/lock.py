"""One writer at a time per data folder: `simulate`, `ingest`, `clean`, `windows` and `prepare` hold an exclusive
lock on `paths.data_dir` while they write it, and a training run holds it for the moment it reads the data version
(windows.json, its hash and the memory-mapped shards), so that it never mixes two versions.

The lock is an OS file lock (`filelock`) on `<data_dir>/.drivelab.lock`: a process that dies releases it. A second
command waits up to `lock_timeout_s`, then stops with one line naming the folder and the holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from filelock import FileLock, Timeout

from drivelab.errors import DrivelabError

LOCK_FILE = ".drivelab.lock"
HOLDER_FILE = ".drivelab.lock.holder"  # who holds it, for the message a waiting command prints


class DataLockedError(DrivelabError):
    """Another command held the data folder for longer than this one was told to wait."""


@contextmanager
def data_dir_lock(data_dir: Path, command: str, timeout_s: Optional[float] = None) -> Iterator[None]:
    """Hold the data folder's lock for the `with` block. `timeout_s` None waits as long as the holder runs."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"drivelab {command}: waiting for {data_dir.resolve()}: {_holder(data_dir)} holds its lock"
              + (f" (up to {timeout_s:g} s, lock_timeout_s)" if timeout_s is not None else ""),
              file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=-1 if timeout_s is None else timeout_s)
        except Timeout:
            raise DataLockedError(f"{data_dir.resolve()} is locked by {_holder(data_dir)} and stayed locked for "
                                  f"{timeout_s:g} s (lock_timeout_s); wait for it to finish or raise "
                                  "lock_timeout_s") from None
    try:
        (data_dir / HOLDER_FILE).write_text(json.dumps({"command": command, "pid": os.getpid(),
                                                        "host": socket.gethostname()}))
        yield
    finally:
        lock.release()


def _holder(data_dir: Path) -> str:
    try:
        holder = json.loads((data_dir / HOLDER_FILE).read_text())
        return f"drivelab {holder['command']} (pid {holder['pid']} on {holder['host']})"
    except (OSError, ValueError, KeyError):
        return "another drivelab command"
