"""Ctrl-C and SIGTERM as KeyboardInterrupt, delivered even through compiled code.

Long work stopped by Ctrl-C, ``kill``, ``timeout`` or a batch scheduler should keep what it
finished (CNN training saves its best epoch, ``simulate`` keeps its chunks) instead of dying
mid-way. Two things stand in the way: SIGTERM kills Python outright, and a KeyboardInterrupt
raised while numba-compiled code runs (the spheroid model) does not come out as one: the
signal handler then runs inside a callback from compiled code, and numba reports the
exception as a SystemError, which code that survives errors (a retried chunk) would swallow.
Inside :func:`handle_interrupts`, both signals raise KeyboardInterrupt and are also recorded,
and :func:`interrupt_from_error`, around each call into a simulator plugin, turns an error
raised while an interrupt is pending back into that interrupt.

Compiled work that runs long without returning to the interpreter (the spheroid solver on a
huge frequency grid) holds the signal back until it returns, so it is done in short blocks
with :func:`check_interrupt` between them: in the main thread the interrupt is raised there,
and in worker threads (dask's threads scheduler) the work stops with
:class:`~ts_toolkit.errors.Interrupted`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Interrupted

_pending = threading.Event()
_stop = threading.Event()  # an interrupt arrived: work in other threads stops too


def _interrupt(signum: int, frame: object) -> None:
    _pending.set()
    _stop.set()
    raise KeyboardInterrupt


def interrupt_requested() -> bool:
    """True once Ctrl-C or SIGTERM arrived inside :func:`handle_interrupts` (until the
    outermost one is entered again)."""
    return _stop.is_set()


def check_interrupt() -> None:
    """Stop here if Ctrl-C or SIGTERM arrived: call it between blocks of long compiled work.

    In the main thread an interrupt not raised yet (lost inside compiled code) is raised as
    KeyboardInterrupt; in any other thread, once an interrupt has arrived, this raises
    :class:`~ts_toolkit.errors.Interrupted`, so worker threads stop within one block instead
    of running on after the command has ended."""
    if threading.current_thread() is threading.main_thread():
        raise_pending_interrupt()
    elif _stop.is_set():
        raise Interrupted("interrupted by Ctrl-C or SIGTERM")


def raise_pending_interrupt() -> None:
    """Raise KeyboardInterrupt if Ctrl-C or SIGTERM arrived inside :func:`handle_interrupts`
    and was not raised yet (numba turns a KeyboardInterrupt raised inside it into
    SystemError). Only in the main thread, where the signal arrived: worker threads (dask's
    threads scheduler) carry on until told to stop."""
    if threading.current_thread() is not threading.main_thread():
        return
    if _pending.is_set():
        _pending.clear()
        raise KeyboardInterrupt


@contextmanager
def interrupt_from_error() -> Iterator[None]:
    """Around a call into a plugin (compiled code, maybe): an error it raises while an
    interrupt is pending is that interrupt, numba's SystemError among them, and comes out
    as KeyboardInterrupt; other errors pass unchanged."""
    try:
        yield
    except Exception:
        raise_pending_interrupt()
        raise


def clear_pending_interrupt() -> None:
    """Forget a recorded interrupt (call it where a KeyboardInterrupt has been handled)."""
    _pending.clear()


@contextmanager
def handle_interrupts() -> Iterator[None]:
    """While inside, SIGINT (Ctrl-C) and SIGTERM raise KeyboardInterrupt and are recorded.

    A signal is taken over only where it has its default handling (SIGTERM: the default
    action; SIGINT: Python's KeyboardInterrupt) or is already handled this way: a handler that
    someone else set, a signal ignored by the parent process, or a handler installed outside
    Python is left alone. Handlers can only be set in the main thread; elsewhere this does
    nothing. The previous handlers are restored, and the record cleared, on exit; when the
    block ends with an exception (an interrupt on its way out), worker threads are still told
    to stop (:func:`check_interrupt`) until the next outermost entry.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    previous = {}
    for sig, default in defaults.items():
        current = signal.getsignal(sig)
        if current is default or current is _interrupt:
            previous[sig] = current
            signal.signal(sig, _interrupt)
    outermost = not any(p is _interrupt for p in previous.values())
    if outermost:
        _pending.clear()
        _stop.clear()
    failed = True
    try:
        yield
        failed = False
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if outermost:
            _pending.clear()
            if not failed:
                _stop.clear()
