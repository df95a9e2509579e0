"""Output files: never an input, never replaced unasked, never half-written.

Every command that writes files goes through this module:

- :func:`check_outputs` refuses an output path that is one of the command's inputs
  (compared as files: symbolic links, ``..`` and relative paths resolve to the same file)
  and an existing output unless the user passed ``--overwrite``;
- :func:`atomic_output` (and :func:`write_bytes_atomic`, :func:`write_text_atomic`) write
  to a temporary name in the output's folder and rename it onto the output
  (``os.replace``) only once the file is complete, so an interrupted or failed write
  leaves the previous file, or none, but never a truncated one.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputPathError

PathLike = str | os.PathLike[str]


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file: the same inode when both exist (hard
    and symbolic links), else the same fully resolved path."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve(strict=False) == pb.resolve(strict=False)


def refuse_inputs(
    outputs: Iterable[PathLike | None], inputs: Iterable[PathLike | None], option: str = "--out"
) -> None:
    """Refuse any output that is the same file as one of the inputs (``None``s skipped)."""
    ins = [Path(p) for p in inputs if p is not None]
    for out in (Path(p) for p in outputs if p is not None):
        for inp in ins:
            if same_file(out, inp):
                raise OutputPathError(
                    f"{option} {out} is the input file {inp}; writing it would destroy the "
                    "input - choose another output path"
                )


def refuse_existing(outputs: Iterable[PathLike | None], overwrite: bool = False) -> None:
    """Refuse an output that is a folder, or that exists unless ``overwrite``."""
    for out in (Path(p) for p in outputs if p is not None):
        if out.is_dir():
            raise OutputPathError(f"output {out} is a folder, not a file")
        if out.exists() and not overwrite:
            raise OutputPathError(f"{out} already exists; pass --overwrite to replace it")


def check_outputs(
    outputs: Iterable[PathLike | None],
    inputs: Iterable[PathLike | None] = (),
    overwrite: bool = False,
    option: str = "--out",
) -> None:
    """:func:`refuse_inputs` then :func:`refuse_existing`: what every command that writes
    files calls before it starts work. Raises :class:`~ts_toolkit.errors.OutputPathError`
    with a one-line message naming the path."""
    outs = [p for p in outputs if p is not None]
    refuse_inputs(outs, inputs, option)
    refuse_existing(outs, overwrite)


def temporary_name(path: PathLike) -> Path:
    """A unique hidden name beside ``path``: ``.<name>.tmp-<pid>-<thread>-<random>``.

    It does not end in the output's suffix, so ``*.json``-style globs never see a file
    being written; writers that pick a format from the name (matplotlib) must be given
    the format explicitly."""
    p = Path(path)
    tag = f"{os.getpid()}-{threading.get_ident() % 100_000}-{secrets.token_hex(3)}"
    return p.with_name(f".{p.name}.tmp-{tag}")


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: PathLike, fsync: bool = True) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed onto ``path`` when the block
    ends without an error (after flushing it to disk when ``fsync``), deleted otherwise.

    The folder is created if needed. Use it as::

        with atomic_output(out) as tmp:
            fig.savefig(tmp, format="png")
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(out)
    try:
        yield tmp
        if not tmp.exists():
            raise OutputPathError(f"nothing was written to {out}")
        if fsync:
            _fsync(tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_output`; returns the path."""
    with atomic_output(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: PathLike, text: str, fsync: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)
