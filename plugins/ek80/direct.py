"""Read the FM samples of an EK80 ``.raw`` file straight from its datagrams.

``echopype.open_raw`` turns every sample of a file into xarray groups (one array per
channel padded to the longest ping, split into FM and CW groups with ``where(...,
drop=True)``, concatenated): on a 200 MB survey that took about half of the whole
extraction's time, and several times the file's size in memory. The extraction needs none
of it for the samples: each ``RAW3`` datagram holds one channel's complex samples of one
ping, and the ``XML0`` Parameter datagram before it describes the pulse. This module reads
those two itself (one ping at a time) and leaves to echopype what needs its parsing of the
configuration: it converts a small file made of the file's own datagrams, all but the
samples (configuration, environment, filters, NMEA, motion) and the first ping of each
channel, and takes from it the calibration, filter stages, environment, transducer depth,
navigation and the order of the channels.

The pings are the :class:`~.core.ChannelPing` s the echopype reader (:mod:`.reader`) makes
of the whole file, bit for bit, in the same order (tests/test_ek80_direct.py compares the
two on every file at hand). A file whose whole-file conversion echopype cannot finish may
still be read here (seen once: a synthetic survey with some pings relabelled CW but keeping
FM frequency attributes, where echopype 0.11 stopped on per-ping values of unequal lengths).

Where this module would not read a file as echopype does, it declines
(:meth:`DirectRead.prepare` returns None) and the caller reads the file through echopype:
complex samples in float16, a pulse form other than CW (0) and LFM (1), a RAW3
datagram with the samples of another channel than its Parameter datagram names, a channel
with both complex and power/angle pings, a RAW3 datagram without samples, a header or
Parameter that cannot be read, or a file without any complex FM ping (echopype's reading
then says what the file holds).
"""

from __future__ import annotations

import datetime
import shutil
import struct
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ts_toolkit.errors import InputFileError

from .core import ChannelPing
from .datagrams import CHANNEL_ID_BYTES, Frame
from .pieces import is_setup, write_frames
from .reader import (
    ChannelSetup,
    _complex_sectors,
    beam_channels,
    check_yielded,
    file_setup,
    is_fm,
    open_echodata,
    sample_offset,
    transducer_depths,
)
from .salvage import SalvagePlan, relabel

#: RAW3 header after the datagram's length, type and time: channel id (128 bytes), data
#: type (int16), 2 spare bytes, sample offset and count (int32).
_RAW3_HEAD = struct.Struct(f"<{CHANNEL_ID_BYTES}sh2xii")
_HEAD_BYTES = 16  # length, type, time
#: data type bits: power, angle (int16 pairs and int8 pairs per sample, before the complex
#: samples), complex float32 (0b100 is float16, not read here); bits 8-10: complex values
#: per sample
_POWER, _ANGLE, _FLOAT32 = 0b1, 0b10, 0b1000
_NT_EPOCH = datetime.datetime(1601, 1, 1)
_UNIX_EPOCH = datetime.datetime(1970, 1, 1)
_CW, _LFM = 0, 1


class _Decline(Exception):
    """The file holds something this module does not read as echopype does."""


@dataclass(frozen=True)
class SamplePing:
    """One RAW3 datagram of complex samples and the pulse its Parameter datagram names."""

    frame: Frame
    parameter: Frame
    channel: str
    pulse_form: int
    values: dict[str, float]  # reader.PER_PING names, SI, as echopype stores them
    offset: int  # RAW3 sample offset (samples)
    count: int  # samples
    sectors: int  # complex values per sample
    data_start: int  # byte offset of the complex samples in the file

    @property
    def fm(self) -> bool:
        return self.pulse_form == _LFM


def ping_time(nt_ticks: int) -> np.datetime64:
    """The datagram time ``nt_ticks`` (100 ns since 1601) as echopype gives it: through a
    float number of seconds and a :class:`datetime.timedelta` (microseconds, rounded)."""
    moment = _NT_EPOCH + datetime.timedelta(seconds=nt_ticks * 1.0e-7)
    micro = (moment - _UNIX_EPOCH) // datetime.timedelta(microseconds=1)
    return np.datetime64(micro * 1000, "ns")


def _channel_id(raw: bytes) -> str:
    """A RAW3 channel id as echopype cleans it."""
    text = raw.decode("unicode_escape").strip("\x00")
    return text.replace("\x00t", "")


def _parameter(fh: BinaryIO, frame: Frame) -> dict[str, str]:
    """The attributes of an XML0 Parameter datagram's ``Channel`` elements (the last one's
    where there are several, as echopype keeps them)."""
    fh.seek(frame.offset + _HEAD_BYTES)
    body = fh.read(frame.length - 12)
    try:
        root = ET.fromstring(str(body.strip(b"\x00"), "ascii", errors="replace"))
    except ET.ParseError as exc:
        raise _Decline(f"unreadable Parameter datagram at byte {frame.offset}") from exc
    attrs: dict[str, str] = {}
    for element in root.iter("Channel"):
        attrs.update(element.attrib)
    return attrs


def _values(attrs: dict[str, str]) -> tuple[int, dict[str, float]]:
    """(pulse form, the reader's per-ping values) of an FM ping's Parameter attributes,
    converted as echopype converts them (the pulse duration through float32)."""
    try:
        form = int(attrs["PulseForm"])
        if form != _LFM:
            return form, {}
        values = {
            "sample_interval": float(attrs["SampleInterval"]),
            "transmit_duration_nominal": float(np.float32(float(attrs["PulseDuration"]))),
            "transmit_frequency_start": float(np.array(attrs["FrequencyStart"]).astype(float)),
            "transmit_frequency_stop": float(np.array(attrs["FrequencyEnd"]).astype(float)),
            "slope": float(attrs["Slope"]),
            "transmit_power": float(attrs["TransmitPower"]),
        }
    except (KeyError, ValueError) as exc:
        raise _Decline(f"Parameter datagram without a readable {exc}") from exc
    return form, values


def _sample_pings(fh: BinaryIO, keep: list[Frame]) -> list[SamplePing]:
    """Every complex-sample RAW3 datagram of ``keep`` (file order) with its Parameter.
    Raises :class:`_Decline` (see the module doc)."""
    current: tuple[Frame, dict[str, str]] | None = None
    parsed: dict[int, tuple[int, dict[str, float]]] = {}
    kinds: dict[str, bool] = {}  # channel -> whether its pings are complex
    out: list[SamplePing] = []
    for f in keep:
        if f.kind == "XML0" and f.xml_root == "Parameter":
            attrs = _parameter(fh, f)
            if "EC150" not in attrs.get("ChannelID", ""):
                current = (f, attrs)
            continue
        if f.kind != "RAW3":
            continue
        fh.seek(f.offset + _HEAD_BYTES)
        head = fh.read(_RAW3_HEAD.size)
        if len(head) < _RAW3_HEAD.size:
            raise _Decline(f"short RAW3 datagram at byte {f.offset}")
        raw_id, dtype, offset, count = _RAW3_HEAD.unpack(head)
        channel = _channel_id(raw_id)
        if "EC150" in channel:
            continue
        if current is None or current[1].get("ChannelID") != channel:
            raise _Decline(f"RAW3 at byte {f.offset} without its channel's Parameter")
        if count <= 0:
            raise _Decline(f"RAW3 at byte {f.offset} without samples")
        sectors = dtype >> 8
        complex_ = sectors > 0
        if kinds.setdefault(channel, complex_) != complex_:
            raise _Decline(f"channel {channel} has both complex and power/angle pings")
        if sectors and not dtype & _FLOAT32:
            raise _Decline(f"float16 complex samples in channel {channel}")
        pframe, attrs = current
        if pframe.offset not in parsed:
            parsed[pframe.offset] = _values(attrs)
        form, values = parsed[pframe.offset]
        if form not in (_CW, _LFM):
            raise _Decline(f"pulse form {form} in channel {channel}")
        start = f.offset + _HEAD_BYTES + _RAW3_HEAD.size
        if dtype & _POWER:
            start += 2 * count
        if dtype & _ANGLE:
            start += 2 * count
        body_end = f.offset + 4 + f.length
        if start + 8 * count * sectors > body_end:
            raise _Decline(f"RAW3 at byte {f.offset} shorter than its sample count")
        if sectors > 0:
            out.append(SamplePing(f, pframe, channel, form, values, offset, count, sectors, start))
    return out


def _first_pings(pings: list[SamplePing]) -> set[int]:
    """Byte offsets of the Parameter and RAW3 datagrams of the first ping of each channel,
    and of its first FM ping: what echopype needs to build the same beam groups, in the
    same channel order, as from the whole file."""
    first: dict[tuple[str, bool], SamplePing] = {}
    for ping in pings:
        first.setdefault((ping.channel, False), ping)
        if ping.fm:
            first.setdefault((ping.channel, True), ping)
    return {f.offset for ping in first.values() for f in (ping.parameter, ping.frame)}


class DirectRead:
    """The FM pings of one ``.raw`` file, read as :mod:`this module <.direct>` says."""

    def __init__(self, path: Path, plan: SalvagePlan, pings: list[SamplePing]):
        self.path, self.plan, self.pings = path, plan, pings
        self.workfile: Path | None = None  # the metadata file echopype converts

    @classmethod
    def prepare(cls, path: str | Path, plan: SalvagePlan) -> DirectRead | None:
        """A reader of the kept datagrams of ``plan`` (see :mod:`.salvage`), or None when
        the file must be read through echopype (see the module doc)."""
        p = Path(path)
        try:
            with open(p, "rb") as fh:
                pings = _sample_pings(fh, plan.keep)
        except _Decline:
            return None
        except OSError as exc:
            raise InputFileError(f"cannot read {p}: {exc.strerror or exc}") from exc
        if not any(ping.fm for ping in pings):  # echopype's reading names what it has
            return None
        return cls(p, plan, pings)

    def metadata_frames(self) -> list[Frame]:
        """Every kept datagram but the samples and pulse descriptions, and the first pings
        (:func:`_first_pings`), in file order."""
        first = _first_pings(self.pings)
        return [
            f
            for f in self.plan.keep
            if f.offset in first
            or is_setup(f)
            or not (f.kind in ("RAW3", "RAW4") or (f.kind == "XML0" and f.xml_root == "Parameter"))
        ]

    def fm_pings(
        self,
        info: dict[str, Any],
        channels: list[str] | None = None,
        label: str | Path | None = None,
    ) -> Iterator[ChannelPing]:
        """Yield the file's FM pings (optionally only ``channels``) as the echopype reader
        does (:func:`.reader.iter_fm_pings`: same ``info`` keys, same errors)."""
        folder = Path(tempfile.mkdtemp(prefix="ts-toolkit-ek80-"))
        self.workfile = folder / self.path.name  # the original name: echopype records it
        try:
            try:
                write_frames(self.path, self.metadata_frames(), self.workfile)
            except OSError as exc:
                raise InputFileError(
                    f"cannot write the configuration of {self.path} to {folder}: "
                    f"{exc.strerror or exc} (set TMPDIR to a folder with space)"
                ) from exc
            try:
                yield from self._pings(info, channels, label or self.path)
            except InputFileError as exc:
                raise relabel(exc, self.workfile, self.path) from exc
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _pings(
        self, info: dict[str, Any], channels: list[str] | None, p: str | Path
    ) -> Iterator[ChannelPing]:
        assert self.workfile is not None
        ed = open_echodata(self.workfile)
        vend, env = file_setup(ed, info, p)
        by_channel: dict[str, list[SamplePing]] = {}
        for ping in self.pings:
            if ping.fm:
                by_channel.setdefault(ping.channel, []).append(ping)
        n_yielded = 0
        empty_before = info["empty_pings"]
        with open(self.path, "rb") as fh:
            for beam, ch in beam_channels(ed, channels):
                ttype = np.asarray(beam["transmit_type"].sel(channel=ch).values)
                if not any(is_fm(t) for t in ttype.reshape(-1)):
                    continue
                todo = by_channel.pop(ch, [])
                if not todo:
                    continue
                setup = ChannelSetup(beam, vend, env, ch, p)
                times = np.array([ping_time(s.frame.time) for s in todo])
                depths = transducer_depths(ed, ch, times)
                for k, s in enumerate(todo):
                    samples = _read_samples(fh, s)
                    if samples is None:
                        info["empty_pings"] += 1
                        continue
                    dt = s.values["sample_interval"]
                    offset = sample_offset(s.offset * dt, dt)
                    n_yielded += 1
                    yield setup.ping(samples, s.values, offset, times[k], float(depths[k]), info)
        check_yielded(n_yielded, info["empty_pings"] - empty_before, p)


def _read_samples(fh: BinaryIO, ping: SamplePing) -> np.ndarray | None:
    """One ping's complex samples (sector, sample), made of their float32 parts as the
    echopype reader makes them of echopype's (:func:`.reader._complex_sectors`)."""
    fh.seek(ping.data_start)
    raw = fh.read(8 * ping.count * ping.sectors)
    data = np.frombuffer(raw, dtype=np.complex64).reshape(ping.count, ping.sectors)
    return _complex_sectors(data.real, data.imag)
