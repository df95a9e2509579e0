"""The dask.distributed client that ``simulate`` and ``batch`` run their tasks on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import TsToolkitError


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A ``distributed.Client``, closed (with its local cluster) on exit.

    ``scheduler`` None or "processes": a local cluster of ``workers`` single-threaded worker
    processes; "threads": the same as threads of this process; anything else: the address of
    a running ``dask.distributed`` scheduler. The local cluster logs only critical messages:
    a task's failure comes back through its future, and on Ctrl-C the workers' complaints
    about their vanished scheduler would only bury the one-line message.
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler in (None, "processes", "threads"):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=scheduler != "threads",
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise TsToolkitError(f"cannot connect to dask scheduler {scheduler}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
