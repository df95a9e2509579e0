"""Cheap walks over a Simrad ``.raw`` file's datagram framing (no echopype).

Each datagram is ``int32 length | length bytes (4-byte type, 8-byte time, body) | int32
length``, little-endian. An EK80 file starts with an ``XML0`` datagram.

:func:`scan_datagrams` finds every complete, well-framed datagram and the damaged byte
ranges between them: a tail cut short (a recording stopped by a power loss) or a corrupt
stretch in the middle (a length field that is impossible or does not match the trailing
one), after which the walk resynchronises on the next well-framed datagram.
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ts_toolkit.errors import InputFileError

EK80_FIRST = b"XML0"
CHANNEL_ID_BYTES = 128
MIN_LENGTH = 12  # type + time
_HEAD = struct.Struct("<i4sQ")  # length, type, NT time (100 ns ticks since 1601)
_INT = struct.Struct("<i")
_TYPE = re.compile(rb"[A-Z]{3}[0-9]")  # XML0, FIL1, RAW3, NME0, MRU0, TAG0, ...
_XML_ROOT = re.compile(rb"<([A-Za-z][A-Za-z0-9_]*)")


def is_ek80(path: str | Path) -> bool:
    """True when the file starts with a plausible ``XML0`` datagram header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    if len(head) < 8:
        return False
    (length,) = struct.unpack("<i", head[:4])
    return head[4:8] == EK80_FIRST and 12 <= length < 50_000_000


@dataclass(frozen=True)
class Frame:
    """One complete datagram: byte ``offset`` of its leading length field, ``length`` (type
    + time + body, bytes), type, NT time (100 ns ticks), channel id (RAW3) and the XML
    root element (XML0: Configuration, Environment, Parameter, ...)."""

    offset: int
    length: int
    kind: str
    time: int
    channel: str = ""
    xml_root: str = ""

    @property
    def end(self) -> int:
        """Byte offset just past the trailing length field."""
        return self.offset + 8 + self.length


@dataclass(frozen=True)
class Gap:
    """Bytes ``[start, end)`` that are not part of any complete datagram. ``kind`` and
    ``time`` (NT ticks) are those of the damaged datagram's header where it is readable
    (type looks valid), else empty / -1; ``claimed`` is its length field."""

    start: int
    end: int
    kind: str = ""
    time: int = -1
    claimed: int = -1

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass
class Scan:
    """Every complete datagram of a file, in order, and the damaged ranges between them."""

    path: Path
    size: int
    frames: list[Frame] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Complete datagrams by type."""
        out: dict[str, int] = {}
        for f in self.frames:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    @property
    def truncated(self) -> bool:
        """The file ends inside a datagram."""
        return bool(self.gaps) and self.gaps[-1].end == self.size and self._tail_is_cut()

    def _tail_is_cut(self) -> bool:
        g = self.gaps[-1]
        return g.size < 8 or (bool(g.kind) and g.claimed >= MIN_LENGTH)


@contextmanager
def _mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            yield b""
            return
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield mm
        finally:
            mm.close()


def _frame_at(buf: bytes | mmap.mmap, pos: int, size: int) -> Frame | None:
    """The complete, well-framed datagram starting at ``pos``, or None."""
    if pos + 16 > size:
        return None
    length, kind, time = _HEAD.unpack_from(buf, pos)
    end = pos + 8 + length
    if length < MIN_LENGTH or end > size or not _TYPE.fullmatch(kind):
        return None
    if _INT.unpack_from(buf, end - 4)[0] != length:
        return None
    name = kind.decode("ascii")
    channel = xml_root = ""
    if name == "RAW3" and length >= MIN_LENGTH + CHANNEL_ID_BYTES:
        raw = bytes(buf[pos + 16 : pos + 16 + CHANNEL_ID_BYTES])
        channel = raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
    elif name == "XML0":
        head = bytes(buf[pos + 16 : pos + 16 + min(length - MIN_LENGTH, 512)])
        for m in _XML_ROOT.finditer(head):
            xml_root = m.group(1).decode("ascii")
            break
    return Frame(pos, length, name, time, channel, xml_root)


def _resync(buf: bytes | mmap.mmap, start: int, size: int) -> Frame | None:
    """The first well-framed datagram beginning at or after ``start``."""
    search = start + 4
    while True:
        m = _TYPE.search(buf, search)
        if m is None:
            return None
        frame = _frame_at(buf, m.start() - 4, size) if m.start() >= 4 else None
        if frame is not None:
            return frame
        search = m.start() + 1


def _gap(buf: bytes | mmap.mmap, start: int, end: int, size: int) -> Gap:
    if start + 16 <= size:
        length, kind, time = _HEAD.unpack_from(buf, start)
        if _TYPE.fullmatch(kind):
            return Gap(start, end, kind.decode("ascii"), time, length)
    return Gap(start, end)


def scan_datagrams(path: str | Path) -> Scan:
    """Walk every datagram of ``path``: complete ones and damaged ranges (see module doc).

    Raises :class:`InputFileError` when the file cannot be read or does not start with a
    complete EK80 ``XML0`` datagram (nothing can be read without the configuration)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        scan = Scan(p, size)
        with _mapped(p) as buf:
            pos = 0
            while pos < size:
                frame = _frame_at(buf, pos, size)
                if frame is not None:
                    scan.frames.append(frame)
                    pos = frame.end
                    continue
                nxt = _resync(buf, pos + 1, size)
                scan.gaps.append(_gap(buf, pos, nxt.offset if nxt else size, size))
                if nxt is None:
                    break
                pos = nxt.offset
    except OSError as exc:
        raise InputFileError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if not scan.frames or scan.frames[0].offset != 0 or scan.frames[0].kind != "XML0":
        if is_ek80(p):
            raise InputFileError(
                f"corrupt or truncated EK80 file {p}: its first (configuration) datagram is "
                "incomplete or damaged, so nothing in it can be read"
            )
        raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
    return scan


def check_framing(path: str | Path) -> dict[str, int]:
    """Complete datagrams by type; raise :class:`InputFileError` naming the file when the
    framing is broken anywhere (corrupt or truncated). Strict: see ``salvage`` for reading
    what is intact in a damaged file."""
    scan = scan_datagrams(path)
    if scan.gaps:
        g = scan.gaps[0]
        what = (
            f"datagram at byte {g.start} claims {g.claimed} bytes but the file ends at "
            f"byte {scan.size}"
            if scan.truncated and len(scan.gaps) == 1
            else f"damaged datagram framing at byte {g.start}"
        )
        raise InputFileError(f"corrupt or truncated EK80 file {scan.path}: {what}")
    return scan.counts()
