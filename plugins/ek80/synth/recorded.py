"""Write recorded pings (:class:`~..core.ChannelPing`, e.g. a real ping loaded from a
CRIMAC JSON file) into an EK80 ``.raw`` file, so the echopype path reads real samples.

What a ``ChannelPing`` holds goes into the file unchanged, in the datagrams the EK80
format keeps it in: the complex sector samples and their sample offset (``RAW3``, complex
float32), the filter stages as stored (``FIL1``, complex float32 coefficients), the
transceiver (sampling rate, impedance), the transducer (nominal frequency, beam widths,
angle sensitivities and offsets, nominal gain) and its calibration table
(``FrequencyPar``) in the Configuration ``XML0``, the water in the Environment ``XML0``
and the ping parameters (FM band, duration, slope, power, sample interval) in a Parameter
``XML0`` before each ``RAW3``; the ping time is the datagrams' time stamp (receiver
impedance in whole ohms and table frequencies in whole Hz, as echopype parses them). What
the ``ChannelPing`` does not carry (equivalent beam angle, the pulse-duration tables and their
gains, the transducer's name) comes from a :class:`ChannelRecord` (from the JSON file,
:func:`..crimac.load_crimac_record`) or is written from the ping's own values.

Unlike the synthetic survey writer this module writes no echo of its own: it shares the
datagram encoders (:mod:`.raw_format`) and the XML helpers (:mod:`.config_xml`) and, like
the rest of :mod:`..synth`, imports neither echopype nor the processing chain
(``ChannelPing`` only for type hints).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ts_toolkit import __version__
from ts_toolkit.errors import InvalidParameterError
from ts_toolkit.outputs import atomic_output

from . import raw_format as rf
from .config_xml import (
    APPLICATION_NAME,
    FILE_FORMAT_VERSION,
    _join,
    _num,
    _text,
    environment_xml,
    fm_parameter_xml,
    installed_transducer,
)

if TYPE_CHECKING:
    from ..core import ChannelPing

# echopype finds a channel's transceiver number with this pattern in the channel id
_CHANNEL_NUMBER = re.compile(r"\d{6}-\w{1,2}|\w{12}-\w{1,2}")


@dataclass(frozen=True)
class ChannelRecord:
    """Configuration values of a recorded channel that a ``ChannelPing`` lacks.

    ``transducer``: name (e.g. "ES120-7CD"); ``equivalent_beam_angle`` (dB re 1 sr);
    ``pulse_durations`` (s, the CW table the ``gains`` (dB) and ``sa_corrections`` (dB)
    belong to) and ``pulse_durations_fm`` (s); ``max_power`` (W); ``frequency_minimum``
    and ``frequency_maximum`` (Hz) of the transducer; ``drop_keel_offset`` (m).
    None or empty: written from the ping (its duration, gain, power and band).
    """

    transducer: str | None = None
    equivalent_beam_angle: float | None = None
    pulse_durations: tuple[float, ...] = ()
    pulse_durations_fm: tuple[float, ...] = ()
    gains: tuple[float, ...] = ()
    sa_corrections: tuple[float, ...] = ()
    max_power: float | None = None
    frequency_minimum: float | None = None
    frequency_maximum: float | None = None


def channel_id_of(ping: ChannelPing, index: int = 0) -> str:
    """The ping's channel id when echopype can read its transceiver number from it, else
    ``"WBT 000000-<index + 1> <f_nom kHz>kHz"``."""
    if ping.channel and _CHANNEL_NUMBER.search(ping.channel) and len(ping.channel) <= 128:
        return ping.channel
    return f"WBT 000000-{index + 1} {ping.calibration.frequency_nominal / 1e3:g}kHz"


def _signature(ping: ChannelPing) -> tuple[Any, ...]:
    """What must be the same for pings written as one channel: sectors, base rate,
    filter stages and calibration."""
    cal = ping.calibration
    table = (
        ()
        if cal.table is None
        else tuple((k, np.asarray(v, float).tobytes()) for k, v in sorted(cal.table.items()))
    )
    stages = tuple((st.decimation, np.asarray(st.coefficients).tobytes()) for st in ping.stages)
    scalars = {k: v for k, v in vars(cal).items() if k != "table" and not k.startswith("_")}
    return (ping.n_sectors, ping.beam_type, ping.fs, stages, tuple(sorted(scalars.items())), table)


def channel_ids(pings: Sequence[ChannelPing]) -> list[str]:
    """The channel id each ping is written under: its own (:func:`channel_id_of`) where
    echopype can read it; pings without one are numbered by configuration (sectors,
    rate, filter stages, calibration), so pings of one configuration share a channel.
    Raises when pings with the same id differ in configuration."""
    signatures: dict[tuple[Any, ...], int] = {}
    ids = []
    for p in pings:
        sig = _signature(p)
        if channel_id_of(p) == p.channel:
            ids.append(p.channel)
        else:
            ids.append(channel_id_of(p, signatures.setdefault(sig, len(signatures))))
    seen: dict[str, tuple[Any, ...]] = {}
    for cid, p in zip(ids, pings):
        if seen.setdefault(cid, _signature(p)) != _signature(p):
            raise InvalidParameterError(
                f"pings of channel {cid} differ in filters or calibration: write them to "
                "separate files"
            )
    return ids


def ping_datetime(value: Any, default: datetime) -> datetime:
    """A ping time (ISO text, ``numpy.datetime64`` or ``datetime``; None) as a UTC
    datetime (microsecond resolution); ``default`` when None."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, np.datetime64):
        us = int(value.astype("datetime64[us]").astype(np.int64))
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidParameterError(f"ping time {value!r} is not an ISO date and time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _transducer_name(ping: ChannelPing, record: ChannelRecord) -> str:
    return record.transducer or f"{ping.calibration.frequency_nominal / 1e3:g}kHz"


def recorded_configuration_xml(
    pings: Sequence[ChannelPing], ids: Sequence[str], records: Sequence[ChannelRecord]
) -> str:
    """The Configuration XML of recorded channels: one transceiver per channel, with
    its transducer and the ping's calibration table as FrequencyPar rows."""
    root = ET.Element("Configuration")
    ET.SubElement(
        root,
        "Header",
        {
            "Copyright": f"Recorded samples rewritten by ts-toolkit {__version__}",
            "ApplicationName": APPLICATION_NAME,
            "Version": f"ts-toolkit-recorded {__version__}",
            "FileFormatVersion": FILE_FORMAT_VERSION,
            "TimeBias": "0",
        },
    )
    transceivers = ET.SubElement(root, "Transceivers", {"MergeOperation": "AddNodeTree"})
    for k, (ping, cid, rec) in enumerate(zip(pings, ids, records)):
        cal = ping.calibration
        number = _CHANNEL_NUMBER.search(cid)
        serial = number.group(0).split("-")[0] if number else f"{k:06d}"
        durations = rec.pulse_durations or (ping.duration,)
        gains = rec.gains if len(rec.gains) == len(durations) else (cal.gain,) * len(durations)
        sa = (
            rec.sa_corrections
            if len(rec.sa_corrections) == len(durations)
            else (0.0,) * len(durations)
        )
        power = rec.max_power if rec.max_power is not None else ping.transmit_power
        tcvr = ET.SubElement(
            transceivers,
            "Transceiver",
            {
                "TransceiverName": f"WBT {serial}",
                "Version": "recorded (ts-toolkit)",
                "TransceiverNumber": str(k + 1),
                "MarketSegment": "Scientific",
                "TransceiverType": "WBT",
                "SerialNumber": serial,
                "Impedance": _num(round(cal.z_receiver)),
                "RxSampleFrequency": _num(ping.fs),
            },
        )
        channel = ET.SubElement(
            ET.SubElement(tcvr, "Channels"),
            "Channel",
            {
                "ChannelID": cid,
                "ChannelIdShort": f"{_transducer_name(ping, rec)} {serial}",
                "MaxTxPowerTransceiver": _num(round(max(power, ping.transmit_power))),
                "PulseDuration": _join(durations),
                "PulseDurationFM": _join(rec.pulse_durations_fm or (ping.duration,)),
                "SampleInterval": _join([ping.sample_interval] * len(durations)),
                "HWChannelConfiguration": "15" if ping.n_sectors == 4 else "0",
            },
        )
        attrs = {
            "TransducerName": _transducer_name(ping, rec),
            "ArticleNumber": "0",
            "SerialNumber": serial,
            "Frequency": _num(cal.frequency_nominal),
            "FrequencyMinimum": _num(rec.frequency_minimum or min(ping.f_start, ping.f_stop)),
            "FrequencyMaximum": _num(rec.frequency_maximum or max(ping.f_start, ping.f_stop)),
            "BeamType": str(int(ping.beam_type)),
            "Gain": _join(gains),
            "SaCorrection": _join(sa),
            "MaxTxPowerTransducer": _num(power),
            "BeamWidthAlongship": _num(cal.beamwidth_along),
            "BeamWidthAthwartship": _num(cal.beamwidth_athwart),
            "AngleSensitivityAlongship": _num(cal.sensitivity_along),
            "AngleSensitivityAthwartship": _num(cal.sensitivity_athwart),
            "AngleOffsetAlongship": _num(cal.offset_along),
            "AngleOffsetAthwartship": _num(cal.offset_athwart),
            "DirectivityDropAt2XBeamWidth": "0",
        }
        if rec.equivalent_beam_angle is not None:
            attrs["EquivalentBeamAngle"] = _num(rec.equivalent_beam_angle)
        xdcr = ET.SubElement(channel, "Transducer", attrs)
        for row in calibration_rows(ping):
            ET.SubElement(xdcr, "FrequencyPar", row)
    transducers = ET.SubElement(root, "Transducers", {"MergeOperation": "AddNodeTree"})
    for k, (ping, cid, rec) in enumerate(zip(pings, ids, records)):
        number = _CHANNEL_NUMBER.search(cid)
        name = _transducer_name(ping, rec)
        installed_transducer(
            transducers, name, f"{name} {number.group(0) if number else k + 1}", ""
        )
    ET.SubElement(root, "ConfiguredSensors", {"MergeOperation": "AddNodeTree"})
    return _text(root)


def calibration_rows(ping: ChannelPing) -> list[dict[str, str]]:
    """FrequencyPar rows of the ping's calibration table (none without one): frequency
    (Hz, an integer as the format has it), gain (dB), transducer impedance (ohm), phase
    (0 deg), beam widths and angle offsets (deg); a quantity the table lacks is written
    from the nominal values. Raises when a table frequency is not a whole number of Hz."""
    cal = ping.calibration
    table = cal.table
    if table is None:
        return []
    f = np.asarray(table["frequency"], float)
    if np.any(f != np.round(f)):
        raise InvalidParameterError(
            "calibration table frequencies must be whole Hz to be written as FrequencyPar"
        )
    gain = cal.gain_db(f)
    bw_al, bw_at = cal.beamwidths(f)
    off_al, off_at = cal.offsets(f)
    return [
        {
            "Frequency": str(int(f[i])),
            "Gain": _num(gain[i]),
            "Impedance": _num(cal.z_transducer),
            "Phase": "0",
            "BeamWidthAlongship": _num(bw_al[i]),
            "BeamWidthAthwartship": _num(bw_at[i]),
            "AngleOffsetAlongship": _num(off_al[i]),
            "AngleOffsetAthwartship": _num(off_at[i]),
        }
        for i in range(f.size)
    ]


def write_recorded_raw(
    pings: Sequence[ChannelPing],
    path: str | Path,
    records: Sequence[ChannelRecord] | ChannelRecord | None = None,
) -> Path:
    """Write ``pings`` (one or more; several channels or several pings of one channel)
    to the EK80 ``.raw`` file ``path`` (atomically); returns the path.

    Channels are told apart by channel id (:func:`channel_ids`); every ping of a channel
    must have the same sectors, filter stages and calibration. ``records``: one
    :class:`ChannelRecord` per ping, or one for all (default: values from the pings).
    All pings must have the same environment. Order: XML0 Configuration, FIL1 (each
    stage of each channel), XML0 Environment, then per ping, in time order (a ping
    without a time is at 2000-01-01), XML0 Parameter and RAW3.
    """
    if not pings:
        raise InvalidParameterError("no ping to write")
    if records is None or isinstance(records, ChannelRecord):
        recs = [records or ChannelRecord()] * len(pings)
    else:
        recs = list(records)
        if len(recs) != len(pings):
            raise InvalidParameterError(f"{len(recs)} records for {len(pings)} pings")
    if any(p.environment != pings[0].environment for p in pings):
        raise InvalidParameterError(
            "the pings differ in environment (a .raw file has one): write them to separate files"
        )
    ids = channel_ids(pings)
    first: dict[str, int] = {}
    for i, cid in enumerate(ids):
        first.setdefault(cid, i)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    times = [ping_datetime(p.ping_time, start) for p in pings]
    t0 = min(times)
    heads = [pings[i] for i in first.values()]
    head_ids = list(first)
    head_recs = [recs[i] for i in first.values()]
    out = Path(path)
    with atomic_output(out) as tmp:
        with tmp.open("wb") as fh:
            fh.write(rf.xml_datagram(t0, recorded_configuration_xml(heads, head_ids, head_recs)))
            for ping, cid in zip(heads, head_ids):
                for k, st in enumerate(ping.stages, start=1):
                    fh.write(rf.filter_datagram(t0, cid, k, st.coefficients, st.decimation))
            fh.write(rf.xml_datagram(t0, environment_xml(pings[0].environment)))
            for k in sorted(range(len(pings)), key=lambda k: times[k]):
                ping, cid, when = pings[k], ids[k], times[k]
                text = fm_parameter_xml(
                    cid,
                    ping.f_start,
                    ping.f_stop,
                    ping.duration,
                    ping.sample_interval,
                    ping.transmit_power,
                    ping.slope,
                )
                fh.write(rf.xml_datagram(when, text))
                fh.write(
                    rf.raw3_datagram(when, cid, np.asarray(ping.samples).T, ping.sample_offset)
                )
    return out
