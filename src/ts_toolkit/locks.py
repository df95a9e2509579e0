"""One run per output: a lock file beside the output, held with ``flock``.

``simulate`` and ``batch`` keep their finished work in ``<out>.parts/`` and ``<out>.work/``
and resume from it. Two runs on the same output at once would do the same work twice and
write the same files; the second one is refused instead. The lock is ``<out>.lock``, locked
with ``fcntl.flock``: the kernel releases it when its process ends, however it ends
(``kill -9``, a crash, a power loss), so a lock left by a dead run never blocks the next one.
The file holds the holder's PID, host and start time, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from .errors import OutputBusyError

F = TypeVar("F", bound=Callable[..., Any])
_held: dict[Path, int] = {}  # lock path -> depth, for this process


def lock_path(out: str | Path) -> Path:
    """The lock file of output ``out``: ``<out>.lock``."""
    out = Path(out)
    return out.with_name(out.name + ".lock")


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold the lock of output ``out`` while inside; raise :class:`OutputBusyError` (one
    line, naming the holder) when another process holds it. Re-entrant in one process."""
    path = lock_path(out).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    fd = _acquire(path, Path(out))
    _held[path] = 1
    try:
        yield path
    finally:
        del _held[path]
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: a waiting opener sees another inode
        os.close(fd)


def _acquire(path: Path, out: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputBusyError(
                f"{out} is being written by another run ({holder}); wait for it to finish "
                f"or stop it, then run this command again (lock {path.name})"
            ) from None
        try:  # the holder we raced with may have removed the file: lock the current one
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
    return fd


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip()
        if text:
            return text.splitlines()[0]
    return "holder unknown"


def holds_output_lock(param: str = "out") -> Callable[[F], F]:
    """Decorate a function so that it runs holding the lock of its argument ``param``."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out = signature.bind(*args, **kwargs).arguments[param]
            with output_lock(out):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
