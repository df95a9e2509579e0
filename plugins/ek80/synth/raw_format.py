"""Binary layout of Simrad EK80 ``.raw`` datagrams: encoding (and a small decoder for tests).

Every datagram is framed as::

    int32  length            # bytes of type + timestamp + body (little endian)
    char4  type              # e.g. b"XML0", b"FIL1", b"RAW3", b"NME0", b"MRU0"
    uint32 low, uint32 high  # NT time: 100 ns ticks since 1601-01-01 UTC (low word first)
    body
    int32  length            # repeated

Bodies written here (all little endian):

- ``XML0``: UTF-8/ASCII XML text, NUL-padded to a multiple of 4 bytes.
- ``FIL1``: int16 stage, 2 spare bytes, char128 channel id, int16 number of coefficients,
  int16 decimation factor, then the coefficients as complex64 (float32 real, imag pairs).
- ``RAW3``: char128 channel id, int16 data type, 2 spare bytes, int32 offset (first sample
  index), int32 count (samples per sector), then ``count`` rows of ``n_sectors`` complex64
  values (sample-major, sectors interleaved). The data type word holds the sample format
  in its low bits (bit 3 = complex float32) and the number of complex sectors in the high
  byte: ``n_sectors << 8 | 0b1000``.
- ``NME0``: the NMEA sentence text, NUL-terminated and padded to 4 bytes.
- ``MRU0``: float32 heave (m), roll, pitch, heading (deg).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError

NT_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
CHANNEL_ID_BYTES = 128
COMPLEX_FLOAT32 = 0b1000  # RAW3 data type bit: complex samples as float32 pairs
_FRAME = struct.Struct("<i4sII")


def nt_time(when: datetime) -> tuple[int, int]:
    """``(low, high)`` 32-bit words of the NT time (100 ns ticks since 1601-01-01 UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - NT_EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    if ticks <= 0:
        raise InvalidParameterError(f"time {when.isoformat()} is before 1601-01-01")
    return ticks & 0xFFFFFFFF, ticks >> 32


def from_nt_time(low: int, high: int) -> datetime:
    """The UTC datetime of NT time words ``(low, high)`` (microsecond resolution)."""
    from datetime import timedelta

    ticks = (int(high) << 32) | int(low)
    return NT_EPOCH + timedelta(microseconds=ticks // 10)


def frame(kind: bytes, when: datetime, body: bytes) -> bytes:
    """One complete datagram: length, type, NT time, ``body``, length."""
    if len(kind) != 4:
        raise ValueError(f"datagram type must be 4 bytes, got {kind!r}")
    low, high = nt_time(when)
    length = 12 + len(body)
    return _FRAME.pack(length, kind, low, high) + body + struct.pack("<i", length)


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _channel_field(channel_id: str) -> bytes:
    raw = channel_id.encode("ascii")
    if len(raw) > CHANNEL_ID_BYTES:
        raise InvalidParameterError(f"channel id longer than 128 bytes: {channel_id!r}")
    return raw.ljust(CHANNEL_ID_BYTES, b"\x00")


def xml_datagram(when: datetime, xml_text: str) -> bytes:
    """An ``XML0`` datagram holding ``xml_text`` (NUL-padded to 4 bytes)."""
    return frame(b"XML0", when, _pad4(xml_text.encode("utf-8")))


def filter_datagram(
    when: datetime, channel_id: str, stage: int, coefficients: np.ndarray, decimation: int
) -> bytes:
    """A ``FIL1`` datagram: one filter stage of one channel (complex64 coefficients)."""
    coeffs = np.ascontiguousarray(coefficients, dtype="<c8")
    if coeffs.ndim != 1 or not 0 < coeffs.size < 2**15:
        raise InvalidParameterError("filter coefficients must be 1-D with 1..32767 values")
    header = struct.pack("<h2s", int(stage), b"\x00\x00") + _channel_field(channel_id)
    header += struct.pack("<hh", coeffs.size, int(decimation))
    return frame(b"FIL1", when, header + coeffs.tobytes())


def raw3_datagram(when: datetime, channel_id: str, samples: np.ndarray, offset: int = 0) -> bytes:
    """A ``RAW3`` datagram of complex float32 samples, shape (n_sample, n_sector)."""
    data = np.ascontiguousarray(samples, dtype="<c8")
    if data.ndim != 2 or not 1 <= data.shape[1] <= 127:
        raise InvalidParameterError("RAW3 samples must have shape (n_sample, n_sector<=127)")
    data_type = (data.shape[1] << 8) | COMPLEX_FLOAT32
    header = _channel_field(channel_id) + struct.pack(
        "<h2sii", data_type, b"\x00\x00", int(offset), data.shape[0]
    )
    return frame(b"RAW3", when, header + data.tobytes())


def nmea_datagram(when: datetime, sentence: str) -> bytes:
    """An ``NME0`` datagram holding one NMEA sentence."""
    return frame(b"NME0", when, _pad4(sentence.encode("ascii") + b"\x00"))


def mru_datagram(
    when: datetime,
    heave: float = 0.0,
    roll: float = 0.0,
    pitch: float = 0.0,
    heading: float = 0.0,
) -> bytes:
    """An ``MRU0`` motion datagram: heave (m), roll, pitch, heading (deg)."""
    return frame(b"MRU0", when, struct.pack("<4f", heave, roll, pitch, heading))


def nmea_checksum(body: str) -> str:
    """The two-hex-digit XOR checksum of an NMEA sentence body (between ``$`` and ``*``)."""
    value = 0
    for ch in body.encode("ascii"):
        value ^= ch
    return f"{value:02X}"


def nmea_sentence(body: str) -> str:
    """``$<body>*<checksum>``."""
    return f"${body}*{nmea_checksum(body)}"


# --- decoding (for tests and inspection; independent of echopype) ---------------------


@dataclass(frozen=True)
class Datagram:
    """One decoded datagram frame: type, time (UTC) and raw body bytes."""

    kind: str
    time: datetime
    body: bytes


def iter_datagrams(path: str | Path) -> Iterator[Datagram]:
    """Read the framed datagrams of a ``.raw`` file, checking both length fields."""
    data = Path(path).read_bytes()
    pos = 0
    while pos < len(data):
        if pos + 16 > len(data):
            raise InputFileError(f"{path}: truncated datagram header at byte {pos}")
        length, kind, low, high = _FRAME.unpack_from(data, pos)
        end = pos + 4 + length
        if length < 12 or end + 4 > len(data):
            raise InputFileError(f"{path}: bad datagram length {length} at byte {pos}")
        (trailer,) = struct.unpack_from("<i", data, end)
        if trailer != length:
            raise InputFileError(
                f"{path}: length fields differ ({length} != {trailer}) at byte {pos}"
            )
        yield Datagram(kind.decode("latin-1"), from_nt_time(low, high), data[pos + 16 : end])
        pos = end + 4


def decode_raw3(body: bytes) -> tuple[str, int, np.ndarray]:
    """``(channel_id, offset, samples (n_sample, n_sector) complex64)`` of a RAW3 body."""
    channel = body[:CHANNEL_ID_BYTES].rstrip(b"\x00").decode("ascii")
    data_type, _, offset, count = struct.unpack_from("<h2sii", body, CHANNEL_ID_BYTES)
    n_sector = data_type >> 8
    if not data_type & COMPLEX_FLOAT32:
        raise InputFileError(f"RAW3 data type {data_type:#x} is not complex float32")
    start = CHANNEL_ID_BYTES + 12
    values = np.frombuffer(body, dtype="<c8", count=count * n_sector, offset=start)
    return channel, offset, values.reshape(count, n_sector)


def decode_fil1(body: bytes) -> tuple[str, int, int, np.ndarray]:
    """``(channel_id, stage, decimation, coefficients complex64)`` of a FIL1 body."""
    stage, _ = struct.unpack_from("<h2s", body, 0)
    channel = body[4 : 4 + CHANNEL_ID_BYTES].rstrip(b"\x00").decode("ascii")
    n, decimation = struct.unpack_from("<hh", body, 4 + CHANNEL_ID_BYTES)
    coeffs = np.frombuffer(body, dtype="<c8", count=n, offset=8 + CHANNEL_ID_BYTES)
    return channel, stage, decimation, coeffs
