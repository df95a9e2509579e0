"""Files echopype can read, of bounded size: the complete pings of a file, a few at a time.

``echopype.open_raw`` holds a whole file in memory several times over (about 10x its size:
a 45 MB file took 940 MB). A worker must not need more memory for a bigger file, so a file
larger than :data:`PART_BYTES` is read in parts: each part is a temporary file with the
file's configuration datagrams (``XML0`` Configuration/Environment, ``FIL1``) followed by
the datagrams of a run of whole pings, about :data:`PART_BYTES` long. Every ping is
processed on its own, so the targets are the same as from the whole file. A damaged file is
read the same way, with only its complete pings (:mod:`.salvage`); an intact small file is
read directly.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ts_toolkit.errors import InputFileError

from .datagrams import Frame, scan_datagrams
from .salvage import SalvagePlan, plan_salvage

#: Bytes per part read by echopype: memory per worker against echopype's fixed cost per
#: call (about 0.2 s CPU). On a 200 MB survey (batch's extract + classify in one process):
#: 32 MiB parts 936 MB peak RSS, 12.7 s CPU; 48 MiB 1175 MB, 11.8 s; 64 MiB 1612 MB, 11.7 s.
PART_BYTES = 48 << 20
COPY_BLOCK = 8 << 20  # bytes per read when writing a part


def is_setup(f: Frame) -> bool:
    """A datagram every part needs: configuration, environment, filters."""
    return f.kind == "FIL1" or (f.kind == "XML0" and f.xml_root != "Parameter")


def split_parts(plan: SalvagePlan, max_bytes: int = PART_BYTES) -> list[list[Frame]]:
    """The kept datagrams of ``plan`` as parts of whole pings of about ``max_bytes`` each,
    every part starting with the setup datagrams (:func:`is_setup`)."""
    setup = [f for f in plan.keep if is_setup(f)]
    body = [f for f in plan.keep if not is_setup(f)]
    raw3 = [i for i, f in enumerate(body) if f.kind == "RAW3"]
    # a part may end after the last RAW3 of a ping (the next RAW3 has another time)
    ends = {i for i, j in zip(raw3, raw3[1:], strict=False) if body[i].time != body[j].time}
    parts: list[list[Frame]] = []
    current: list[Frame] = []
    size = 0
    for i, f in enumerate(body):
        current.append(f)
        size += f.length
        if i in ends and size >= max_bytes:
            parts.append(setup + current)
            current, size = [], 0
    if current or not parts:
        parts.append(setup + current)
    return parts


def write_frames(source: Path, frames: list[Frame], out: Path) -> None:
    """Write ``frames`` of ``source`` (byte for byte, in the given order) to ``out``."""
    with open(source, "rb") as src, open(out, "wb") as dst:
        for start, end in _runs(frames):
            src.seek(start)
            left = end - start
            while left > 0:
                block = src.read(min(COPY_BLOCK, left))
                if not block:
                    raise InputFileError(f"{source} changed while being read")
                dst.write(block)
                left -= len(block)


def _runs(frames: list[Frame]) -> Iterator[tuple[int, int]]:
    """Byte ranges covered by consecutive adjacent ``frames``."""
    start = end = -1
    for f in frames:
        if f.offset != end:
            if end > start:
                yield start, end
            start = f.offset
        end = f.end
    if end > start:
        yield start, end


@contextmanager
def readable_parts(
    path: str | Path, max_bytes: int | None = None
) -> Iterator[tuple[Iterator[Path], SalvagePlan]]:
    """``(files echopype can read, plan)``: ``path`` itself when it is intact and at most
    ``max_bytes`` (default :data:`PART_BYTES`) long, else temporary parts (written one at a
    time, each removed when the next is made and all on exit).

    Raises :class:`InputFileError` when the file has no ping, or no complete one."""
    p = Path(path)
    limit = PART_BYTES if max_bytes is None else max_bytes
    plan = plan_salvage(scan_datagrams(p))
    if plan.n_pings == 0:
        damage = f" ({plan.warning()})" if plan.damaged else ""
        raise InputFileError(f"no pings in EK80 file {p}: it has no RAW3 (sample) datagram{damage}")
    if plan.kept_pings == 0:
        raise InputFileError(
            f"corrupt or truncated EK80 file {p}: no complete ping ({plan.describe_damage()}; "
            f"{plan.bytes_lost:,} bytes unreadable)"
        )
    if not plan.damaged and plan.scan.size <= limit:
        yield iter([p]), plan
        return
    folder = Path(tempfile.mkdtemp(prefix="ts-toolkit-ek80-"))

    def parts() -> Iterator[Path]:
        for k, frames in enumerate(split_parts(plan, limit)):
            copy = folder / str(k) / p.name  # the original name: echopype records it
            copy.parent.mkdir()
            try:
                write_frames(p, frames, copy)
            except OSError as exc:
                raise InputFileError(
                    f"cannot write a readable part of {p} in {folder}: "
                    f"{exc.strerror or exc} (set TMPDIR to a folder with space)"
                ) from exc
            yield copy
            shutil.rmtree(copy.parent, ignore_errors=True)

    try:
        yield parts(), plan
    finally:
        shutil.rmtree(folder, ignore_errors=True)
