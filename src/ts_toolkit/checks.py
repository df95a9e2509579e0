"""Checks of command-line option values, shared by the commands and the library calls.

Each check returns the value it accepts (so ``workers = check_workers(workers)`` reads
naturally) and raises :class:`~ts_toolkit.errors.InvalidParameterError` with a one-line
message naming the option otherwise. Stated limits:

- ``--workers``: at least 1 (``None``: one per CPU);
- ``--seed``: a whole number from 0 to :data:`MAX_SEED` (2**32 - 1, what every random
  generator the toolkit feeds accepts);
- ``--scheduler``: one of :data:`SCHEDULER_NAMES` or a dask.distributed scheduler address
  ``tcp://host:port`` (or ``tls://host:port``);
- counts such as ``--chunk-size``, ``--n``, ``--targets``: at least 1.
"""

from __future__ import annotations

import difflib
import math
import re

from .errors import InvalidParameterError

SCHEDULER_NAMES = ("processes", "threads", "synchronous")
MAX_SEED = 2**32 - 1
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})")


def nearest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``valid`` names, or ``""``."""
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_count(value: int | None, option: str, minimum: int = 1) -> int | None:
    """``value`` if it is None or a whole number ≥ ``minimum``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{option} must be a whole number, got {value!r}")
    if value < minimum:
        raise InvalidParameterError(f"{option} must be at least {minimum}, got {value}")
    return value


def check_workers(workers: int | None) -> int | None:
    """Worker count: None (one per CPU) or at least 1."""
    return check_count(workers, "--workers")


def check_seed(seed: int | None, option: str = "--seed") -> int | None:
    """A seed: None or a whole number in 0..MAX_SEED."""
    check_count(seed, option, minimum=0)
    if seed is not None and seed > MAX_SEED:
        raise InvalidParameterError(f"{option} must be at most {MAX_SEED} (2**32 - 1), got {seed}")
    return seed


def check_scheduler(scheduler: str | None) -> str | None:
    """None, a local scheduler name, or a ``tcp://host:port`` scheduler address."""
    if scheduler is None or scheduler in SCHEDULER_NAMES:
        return scheduler
    text = str(scheduler).strip()
    m = _ADDRESS.fullmatch(text)
    if m and 1 <= int(m.group(3)) <= 65535:
        return text
    hint = nearest(text, SCHEDULER_NAMES)
    raise InvalidParameterError(
        f"--scheduler {scheduler!r} is neither one of {', '.join(SCHEDULER_NAMES)} nor a "
        f"scheduler address tcp://host:port{hint}"
    )


def check_nonnegative(value: float | None, option: str) -> float | None:
    """A finite number ≥ 0 (or None)."""
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise InvalidParameterError(f"{option} must be a finite number >= 0, got {value!r}")
    return value
