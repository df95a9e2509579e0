"""Cheap checks of a Simrad ``.raw`` file's datagram framing (no echopype).

Each datagram is ``int32 length | length bytes (4-byte type, 8-byte time, body) | int32
length``, little-endian. An EK80 file starts with an ``XML0`` datagram.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ts_toolkit.errors import InputFileError

EK80_FIRST = b"XML0"


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


def check_framing(path: str | Path) -> dict[str, int]:
    """Walk every datagram; return counts by type, or raise :class:`InputFileError`
    naming the file when the framing is broken (corrupt or truncated)."""
    p = Path(path)
    size = p.stat().st_size
    counts: dict[str, int] = {}
    with open(p, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(8)
            if len(head) < 8:
                raise InputFileError(
                    f"corrupt or truncated EK80 file {p}: incomplete datagram header at byte {pos}"
                )
            (length,) = struct.unpack("<i", head[:4])
            end = pos + 4 + length + 4
            if length < 4 or end > size:
                raise InputFileError(
                    f"corrupt or truncated EK80 file {p}: datagram at byte {pos} claims "
                    f"{length} bytes but the file ends at byte {size}"
                )
            fh.seek(pos + 4 + length)
            tail = fh.read(4)
            if struct.unpack("<i", tail)[0] != length:
                raise InputFileError(
                    f"corrupt or truncated EK80 file {p}: datagram at byte "
                    f"{pos} has mismatched length fields"
                )
            kind = head[4:8].decode("ascii", errors="replace")
            counts[kind] = counts.get(kind, 0) + 1
            pos = end
    if not counts or next(iter(counts)) != "XML0":
        raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
    return counts
