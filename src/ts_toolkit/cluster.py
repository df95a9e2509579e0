"""The dask.distributed client that ``simulate`` and ``batch`` run their tasks on."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import Interrupted, TsToolkitError

#: Environment variables that dask's nannies set in every worker they start (config
#: ``distributed.nanny.pre-spawn-environ``) and the workers this module starts go without.
#: ``MALLOC_TRIM_THRESHOLD_=65536`` fixes glibc's mmap threshold at 128 KiB (any explicit
#: threshold switches off its adaptive one), so every array larger than that (a ping's
#: samples, echopype's arrays) is mapped from the system and unmapped again, page by page,
#: each time: ``process_file`` of a 200 MB EK80 survey made 621,000 page faults instead
#: of 212,000 and took 20.6 s CPU instead of 13.9 s (docs/cluster.md).
UNSET_WORKER_ENVIRON = ("MALLOC_TRIM_THRESHOLD_",)


def worker_config() -> dict[str, Any]:
    """The dask config for the workers this module starts (``None`` unsets a variable of
    ``distributed.nanny.pre-spawn-environ``, see :data:`UNSET_WORKER_ENVIRON`)."""
    return {f"distributed.nanny.pre-spawn-environ.{k}": None for k in UNSET_WORKER_ENVIRON}


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A ``distributed.Client``, closed (with its local cluster) on exit.

    ``scheduler`` None or "processes": a local cluster of ``workers`` single-threaded worker
    processes; "threads": the same as threads of this process; anything else: the address of
    a running ``dask.distributed`` scheduler. The local cluster logs only critical messages:
    a task's failure comes back through its future, and on Ctrl-C the workers' complaints
    about their vanished scheduler would only bury the one-line message.
    """
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    logging_disabled_before = logging.root.manager.disable
    if scheduler in (None, "processes", "threads"):
        with dask.config.set(worker_config()):  # the nannies read it when they are made
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
    except BaseException as exc:  # Ctrl-C, SIGTERM, an error or an abandoned run: stop at once
        if isinstance(exc, (Interrupted, KeyboardInterrupt, SystemExit)):
            # the process is ending: the client's complaints about the workers it just lost
            # (CommClosedError tracebacks from its background thread) would bury the message
            logging.disable(logging.CRITICAL)
        if cluster is not None:
            stop_local_workers(cluster)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        logging.disable(logging_disabled_before)


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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _dask_command() -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dask"]


@contextmanager
def localhost_cluster(
    n_workers: int = 2,
    nthreads: int = 1,
    memory_limit: str = "auto",
    cwd: str | Path | None = None,
    timeout: float = 90.0,
) -> Iterator[str]:
    """A real ``dask scheduler`` and ``n_workers`` ``dask worker`` processes on this machine
    (ports chosen free), as on a cluster; yields the scheduler's ``tcp://`` address and
    stops them on exit. For tests and benchmarks; ``cwd`` is the workers' folder. The
    workers read :func:`worker_config` from a temporary folder named by ``DASK_CONFIG``
    (instead of one the caller's environment names)."""
    import subprocess
    import tempfile

    host = "127.0.0.1"
    address = f"tcp://{host}:{free_port(host)}"
    dask = _dask_command()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    config_dir = tempfile.TemporaryDirectory(prefix="ts-toolkit-dask-")
    (Path(config_dir.name) / "ts-toolkit.yaml").write_text(_yaml(worker_config()))
    worker_env = {**os.environ, "DASK_CONFIG": config_dir.name}
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", host, "--port", address.rsplit(":", 1)[1]]
            + ["--no-dashboard"],
            **quiet,
        )
    ]
    try:
        for i in range(n_workers):
            procs.append(
                subprocess.Popen(
                    [*dask, "worker", address, "--nthreads", str(nthreads), "--nworkers", "1"]
                    + ["--memory-limit", memory_limit, "--no-dashboard", "--name", f"w{i}"],
                    cwd=cwd,
                    env=worker_env,
                    **quiet,
                )
            )
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(n_workers, timeout=max(deadline - time.monotonic(), 1))
                break
            except OSError:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise TsToolkitError(f"the dask cluster at {address} did not start") from None
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):  # workers first, then the scheduler
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        config_dir.cleanup()


def _yaml(config: dict[str, Any]) -> str:
    """Dotted dask config keys and their values as a nested YAML document."""
    import yaml

    nested: dict[str, Any] = {}
    for key, value in config.items():
        *parents, name = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = value
    return str(yaml.safe_dump(nested))
