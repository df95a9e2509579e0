"""The dask.distributed client that ``simulate`` and ``batch`` run their tasks on."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
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
    except BaseException:  # Ctrl-C, SIGTERM, an error or an abandoned run: stop at once
        if cluster is not None:
            stop_local_workers(cluster)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def stop_local_workers(cluster: Any) -> None:
    """Kill the worker processes of a local cluster now, without restarting them.

    A closing cluster otherwise waits (4 s) for each busy worker to finish its task, and a
    task in compiled code (the spheroid solver) does not notice a signal. Workers hold
    nothing that is kept (the driver writes every finished result), so nothing is lost. In
    a cluster of threads (no processes) the tasks stop at their next interrupt check
    (:func:`ts_toolkit.signals.check_interrupt`).
    """
    from distributed.core import Status

    for nanny in list(getattr(cluster, "workers", {}).values()):
        process = getattr(getattr(nanny, "process", None), "process", None)
        pid = getattr(process, "pid", None)
        if pid is None:
            continue
        nanny.status = Status.closing_gracefully  # a dead worker is not restarted
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
