"""Worker processes on one machine, as the sweep runs them: forked from the command (so they start with torch and
Lightning already imported), stopped when the command dies, and checked for a clean exit."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any, Callable, Sequence

from drivelab.errors import DrivelabError


def run_in_processes(target: Callable[..., None], arguments: Sequence[Sequence[Any]], name: str) -> None:
    """`target(*arguments[k])` in worker process k; raises naming the workers that exited with an error."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = [context.Process(target=_worker, args=(target, tuple(args), os.getpid()), name=f"{name}-worker-{index}")
               for index, args in enumerate(arguments)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [worker.name for worker in workers if worker.exitcode != 0]
    if failed:
        raise WorkersFailed(failed, len(workers))


class WorkersFailed(DrivelabError):
    def __init__(self, failed: Sequence[str], total: int) -> None:
        self.failed = list(failed)
        super().__init__(f"{len(failed)} of {total} workers stopped early ({', '.join(failed)}; see above)")


def _worker(target: Callable[..., None], args: tuple, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    target(*args)


def exit_with_parent(parent_pid: int) -> None:
    """A worker whose command was killed (kill -9) stops too, instead of training on for nobody."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
