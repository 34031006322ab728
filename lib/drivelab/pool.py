"""Where the per-recording tasks of simulate, ingest, clean and windows run: in this process, in a local pool of
worker processes (joblib's loky backend), or on a Dask cluster (a `distributed.Client`).

Each stage's config section picks the place with `workers`, `backend` (local | dask; `pool` in `simulate`, whose
`backend` is the simulator) and `scheduler` (a Dask
scheduler address such as tcp://host:8786, or null for a cluster of `workers` processes on this machine). Results
always come back in task order, so a stage's output is the same wherever its tasks ran. Dask workers read and write
the same paths as this process: on several machines the data folder must be on storage they all share.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

from drivelab.errors import DrivelabError

BACKENDS = ("local", "dask")


@dataclass(frozen=True)
class PoolSettings:
    """How many workers, and where: `local` processes or the Dask cluster at `scheduler`."""

    workers: int = 1
    backend: str = "local"
    scheduler: Optional[str] = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], section_name: str, backend_key: str = "backend") -> "PoolSettings":
        """The settings of a config section (`clean`, `windows`; `simulate`, whose `backend` is the simulator,
        names it `pool`), checked; errors name the key."""
        backend = section.get(backend_key, "local")
        if backend not in BACKENDS:
            raise DrivelabError(f"{section_name}.{backend_key}={backend!r} is not a worker backend; choose one of: "
                                f"{', '.join(BACKENDS)}")
        scheduler = section.get("scheduler")
        if scheduler is not None and backend != "dask":
            raise DrivelabError(f"{section_name}.scheduler={scheduler!r} needs {section_name}.{backend_key}=dask")
        return cls(workers=max(1, int(section.get("workers", 1))), backend=backend, scheduler=scheduler)

    @property
    def on_cluster(self) -> bool:
        return self.backend == "dask"


def as_pool(workers: Union[int, PoolSettings]) -> PoolSettings:
    """A plain worker count means that many local processes."""
    return workers if isinstance(workers, PoolSettings) else PoolSettings(workers=max(1, int(workers)))


def run_tasks(task: Callable, arguments: Sequence[tuple], workers: Union[int, PoolSettings],
              in_flight_per_worker: int = 2) -> Iterator:
    """task(*args) for every args, yielded in order: in this process for one local worker (or one task), else in
    the pool `workers` names. At most about `in_flight_per_worker` results per worker wait to be consumed."""
    settings = as_pool(workers)
    if settings.on_cluster:
        yield from _on_dask(task, arguments, settings, in_flight_per_worker)
        return
    if settings.workers <= 1 or len(arguments) <= 1:
        yield from (task(*args) for args in arguments)
        return
    from joblib import Parallel, delayed

    # Ordered results keep outputs identical for any pool; a short dispatch queue bounds memory.
    parallel = Parallel(n_jobs=min(settings.workers, len(arguments)), backend="loky", return_as="generator",
                        pre_dispatch=f"{in_flight_per_worker}*n_jobs")
    yield from parallel(delayed(task)(*args) for args in arguments)


def _on_dask(task: Callable, arguments: Sequence[tuple], settings: PoolSettings, in_flight_per_worker: int) -> Iterator:
    """Every task submitted to the cluster, a bounded number at a time, results taken in submission order."""
    with _dask_client(settings) as client:
        limit = max(1, in_flight_per_worker * sum(client.nthreads().values()))
        pending: collections.deque = collections.deque()
        for args in arguments:
            # pure=False: two tasks with equal arguments are still two tasks (they may write different files).
            pending.append(client.submit(task, *args, pure=False))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@contextlib.contextmanager
def _dask_client(settings: PoolSettings):
    """A client of the scheduler at `settings.scheduler`, or of a private local cluster of `workers` processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DrivelabError("backend=dask needs Dask's `distributed` package: pip install -e '.[cluster]'") from None
    with contextlib.ExitStack() as stack:
        if settings.scheduler is None:
            # One single-threaded process per worker, no dashboard: a cluster for this command only.
            cluster = stack.enter_context(LocalCluster(n_workers=settings.workers, threads_per_worker=1,
                                                       processes=True, dashboard_address=None,
                                                       silence_logs=logging.ERROR))
            yield stack.enter_context(Client(cluster))
            return
        try:
            client = stack.enter_context(Client(settings.scheduler, timeout="30s"))
        except OSError as error:
            raise DrivelabError(f"cannot reach the Dask scheduler at {settings.scheduler}: {error}") from None
        yield client
