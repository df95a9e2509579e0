"""Calibration files: write and read EK80 calibration XML, read Echoview ``.ecs`` files.

**XML** (written by ``ts-toolkit calibrate``, read by ``--calibration``): the layout of the
EK80 software's own ``Configuration`` XML, the one a ``.raw`` file carries in its first
``XML0`` datagram, reduced to what a calibration needs::

    <Configuration>
      <Header ApplicationName="ts-toolkit calibrate" .../>
      <Transceivers><Transceiver TransceiverName="WBT 745001"><Channels>
        <Channel ChannelID="WBT 745001-1 ES70-7C">
          <Transducer TransducerName="ES70-7C" Frequency="70000" Gain=".." BeamWidth..>
            <FrequencyPar Frequency="45000" Gain="27.12" Impedance="75" Phase="0"
              BeamWidthAlongship="9.6" BeamWidthAthwartship="9.6"
              AngleOffsetAlongship="0" AngleOffsetAthwartship="0"/>
            ...

Every ``Channel`` whose ``Transducer`` has ``FrequencyPar`` rows is read (so the
configuration XML of a ``.raw`` file, extracted, is a calibration file too). Frequencies in
Hz, gain in dB, beam widths (one-way −3 dB) and offsets in degrees. A row must have
``Frequency`` and ``Gain``; the beam widths and offsets are optional per file (all rows or
none).

**Echoview .ecs** (read only; the subset read): the ``FILESET SETTINGS`` and
``SOURCECAL SETTINGS`` blocks (``LocalCal`` blocks are ignored), and in them, per
``SourceCal`` (a SourceCal setting overrides the FileSet one): ``Frequency`` (nominal, kHz;
used to match a SourceCal to a channel), ``FrequencyTableWideband`` (kHz), and the tables
on it: ``GainTableWideband`` (dB), ``MinorAxisBeamWidthTableWideband`` /
``MajorAxisBeamWidthTableWideband`` (alongship / athwartship beam width, deg),
``MinorAxisAngleOffsetTableWideband`` / ``MajorAxisAngleOffsetTableWideband`` (deg). A
value list may continue on the following lines. Lines commented out with ``#`` are
ignored. Other parameters (CW gains, Sa correction, environment) are not read. A
SourceCal without ``FrequencyTableWideband`` and ``GainTableWideband`` is skipped.

Matching a calibration to a channel of the data (:meth:`CalibrationSet.match`): by
channel id (exact); else by transducer name (the entry's ``TransducerName`` at the end of
the channel id, one entry only); else, for entries without either (``.ecs``), by nominal
frequency (within 1 Hz). A channel that no entry matches keeps its file's calibration.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InputFileError

from .calibration import Calibration

#: (table key, FrequencyPar attribute)
XML_FIELDS = (
    ("gain", "Gain"),
    ("beamwidth_along", "BeamWidthAlongship"),
    ("beamwidth_athwart", "BeamWidthAthwartship"),
    ("offset_along", "AngleOffsetAlongship"),
    ("offset_athwart", "AngleOffsetAthwartship"),
)
#: (table key, .ecs parameter)
ECS_FIELDS = (
    ("gain", "GainTableWideband"),
    ("beamwidth_along", "MinorAxisBeamWidthTableWideband"),
    ("beamwidth_athwart", "MajorAxisBeamWidthTableWideband"),
    ("offset_along", "MinorAxisAngleOffsetTableWideband"),
    ("offset_athwart", "MajorAxisAngleOffsetTableWideband"),
)


class CalibrationFileError(InputFileError):
    """A calibration file that cannot be read, or that fits none of the data's channels."""


@dataclass
class ChannelCalibration:
    """The calibration of one channel from a file: ``frequency`` (Hz, increasing) and the
    tables on it (``gain`` dB; ``beamwidth_along``/``beamwidth_athwart``/``offset_along``/
    ``offset_athwart`` deg, or None when the file lacks them). ``channel_id`` and
    ``transducer_name`` identify it (None in an ``.ecs``); ``frequency_nominal`` (Hz, NaN if
    unknown); ``label``: how it is named in messages."""

    frequency: np.ndarray
    gain: np.ndarray
    beamwidth_along: np.ndarray | None = None
    beamwidth_athwart: np.ndarray | None = None
    offset_along: np.ndarray | None = None
    offset_athwart: np.ndarray | None = None
    channel_id: str | None = None
    transducer_name: str | None = None
    frequency_nominal: float = float("nan")
    label: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, np.ndarray], **identity: Any) -> ChannelCalibration:
        """From a table (``frequency``, ``gain`` and any of the other quantities, by field
        name) and the channel's identity and label (keywords)."""
        optional = ("beamwidth_along", "beamwidth_athwart", "offset_along", "offset_athwart")
        return cls(table["frequency"], table["gain"], *(table.get(k) for k in optional), **identity)

    def applied_to(self, cal: Calibration) -> Calibration:
        """``cal`` with this file's table: its gain and, where the file has them, beam
        widths and offsets; quantities the file lacks come from ``cal`` evaluated at the
        file's frequencies. Sensitivities, impedances and nominal values stay ``cal``'s."""
        f = self.frequency
        bw_al, bw_at = cal.beamwidths(f)
        off_al, off_at = cal.offsets(f)
        fallback = {
            "beamwidth_along": bw_al,
            "beamwidth_athwart": bw_at,
            "offset_along": off_al,
            "offset_athwart": off_at,
        }
        table: dict[str, np.ndarray] = {"frequency": f, "gain": self.gain}
        for key, value in fallback.items():
            mine = getattr(self, key)
            table[key] = np.asarray(mine if mine is not None else value, float)
        return replace(cal, table=table)


@dataclass
class CalibrationSet:
    """The channels of one calibration file, its path and sha256 checksum."""

    path: Path
    entries: list[ChannelCalibration]
    sha256: str = ""
    matched: dict[str, str] = field(default_factory=dict)  # data channel -> entry label
    # (channel, id(input calibration)) -> (that calibration, entry, replaced calibration);
    # the input calibration is kept so that its id is not reused
    _applied: dict[tuple[str, int], tuple[Any, Any, Any]] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"calibration file {self.path.name}"

    def match(self, channel: str, frequency_nominal: float) -> ChannelCalibration | None:
        """The entry for data channel ``channel`` (see the module docstring), or None."""
        for e in self.entries:
            if e.channel_id is not None and e.channel_id.strip() == channel.strip():
                return e
        named = [
            e
            for e in self.entries
            if e.transducer_name and channel.strip().endswith(e.transducer_name.strip())
        ]
        if len(named) == 1:
            return named[0]
        anonymous = [
            e
            for e in self.entries
            if e.channel_id is None
            and e.transducer_name is None
            and np.isfinite(e.frequency_nominal)
            and abs(e.frequency_nominal - frequency_nominal) <= 1.0
        ]
        return anonymous[0] if len(anonymous) == 1 else None

    def apply(self, ping: Any) -> Any:
        """``ping`` (a :class:`.core.ChannelPing`) with its calibration replaced by this
        file's entry for its channel; unchanged when none matches."""
        key = (ping.channel, id(ping.calibration))
        if key not in self._applied:  # the reader shares one Calibration between pings
            entry = self.match(ping.channel, ping.calibration.frequency_nominal)
            new = None if entry is None else entry.applied_to(ping.calibration)
            self._applied[key] = (ping.calibration, entry, new)
        _, entry, new = self._applied[key]
        if entry is None:
            return ping
        self.matched[ping.channel] = entry.label
        return replace(ping, calibration=new)

    def check_matched(self, channels: list[str], where: str) -> None:
        """Raise :class:`CalibrationFileError` when no channel of ``channels`` (the data's,
        read from ``where``) was matched."""
        if self.matched or not channels:
            return
        have = "; ".join(e.label for e in self.entries)
        raise CalibrationFileError(
            f"calibration file {self.path} fits no channel of {where}: it has {have}; "
            f"the data has {', '.join(sorted(set(channels)))}"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "channels": dict(self.matched),
        }


def load_calibration(path: str | Path) -> CalibrationSet:
    """The calibration file ``path`` (``.xml`` or ``.ecs``); :class:`CalibrationFileError`
    when it is missing, malformed or has no channel with a frequency table."""
    from ts_toolkit.conventions import file_sha256

    p = Path(path)
    if not p.is_file():
        raise CalibrationFileError(f"calibration file not found: {p}")
    suffix = p.suffix.lower()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise CalibrationFileError(f"cannot read calibration file {p}: {exc}") from exc
    if suffix == ".ecs":
        entries = parse_ecs(text, p)
    elif suffix == ".xml":
        entries = parse_xml(text, p)
    else:
        raise CalibrationFileError(
            f"calibration file {p}: unknown kind {suffix or '(no suffix)'}; use an EK80 "
            "calibration .xml or an Echoview .ecs file"
        )
    if not entries:
        raise CalibrationFileError(f"calibration file {p} has no channel with a frequency table")
    return CalibrationSet(p, entries, file_sha256(p))


def _float(text: str | None, what: str, p: Path) -> float:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError) as exc:
        raise CalibrationFileError(
            f"calibration file {p}: {what} is not a number: {text!r}"
        ) from exc
    if not np.isfinite(value):
        raise CalibrationFileError(f"calibration file {p}: {what} is not finite: {text!r}")
    return value


def _table(f: np.ndarray, columns: dict[str, np.ndarray], p: Path, where: str) -> dict:
    """Sorted, checked table: increasing distinct positive frequencies, finite values."""
    if f.size == 0:
        raise CalibrationFileError(f"calibration file {p}: {where} has an empty frequency table")
    if np.any(f <= 0):
        raise CalibrationFileError(f"calibration file {p}: {where}: frequencies must be > 0")
    order = np.argsort(f)
    f = f[order]
    if np.any(np.diff(f) == 0):
        raise CalibrationFileError(f"calibration file {p}: {where}: a frequency is repeated")
    out: dict[str, Any] = {"frequency": f}
    for key, v in columns.items():
        if v.shape != f.shape:
            raise CalibrationFileError(
                f"calibration file {p}: {where}: {key} has {v.size} values for {f.size} frequencies"
            )
        out[key] = v[order]
    bw = [out.get("beamwidth_along"), out.get("beamwidth_athwart")]
    if any(b is not None and np.any(b <= 0) for b in bw):
        raise CalibrationFileError(f"calibration file {p}: {where}: beam widths must be > 0")
    return out


def parse_xml(text: str, p: Path) -> list[ChannelCalibration]:
    """The channels of an EK80 calibration / configuration XML text (see the module
    docstring)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CalibrationFileError(f"calibration file {p} is not well-formed XML: {exc}") from exc
    entries = []
    for channel in root.iter("Channel"):
        cid = channel.get("ChannelID")
        for xdcr in channel.iter("Transducer"):
            rows = xdcr.findall("FrequencyPar")
            if not rows:
                continue
            where = f"channel {cid or '?'}"
            f = np.array([_float(r.get("Frequency"), f"{where} Frequency", p) for r in rows])
            columns: dict[str, np.ndarray] = {}
            for key, attr in XML_FIELDS:
                have = [r.get(attr) is not None for r in rows]
                if key == "gain" and not all(have):
                    raise CalibrationFileError(
                        f"calibration file {p}: {where}: a FrequencyPar row has no Gain"
                    )
                if any(have) and not all(have):
                    raise CalibrationFileError(
                        f"calibration file {p}: {where}: {attr} is in some FrequencyPar rows only"
                    )
                if all(have):
                    columns[key] = np.array(
                        [_float(r.get(attr), f"{where} {attr}", p) for r in rows]
                    )
            table = _table(f, columns, p, where)
            name = xdcr.get("TransducerName")
            nominal = xdcr.get("Frequency")
            entries.append(
                ChannelCalibration.from_table(
                    table,
                    channel_id=cid,
                    transducer_name=name,
                    frequency_nominal=_float(nominal, f"{where} Frequency", p)
                    if nominal is not None
                    else float("nan"),
                    label=f"channel {cid}"
                    if cid
                    else f"transducer {name}"
                    if name
                    else f"an unnamed channel ({nominal or '?'} Hz)",
                )
            )
    if root.tag not in ("Configuration", "Calibration") and not entries:
        raise CalibrationFileError(
            f"calibration file {p}: an XML <{root.tag}> without Channel/Transducer/"
            "FrequencyPar elements (expected the EK80 calibration layout)"
        )
    return entries


_BLOCK = re.compile(r"^#\s*(FILESET|SOURCECAL|LOCALCAL)\s+SETTINGS\s*#\s*$", re.I)
_SOURCECAL = re.compile(r"^\s*SourceCal\s+(\S+)\s*$", re.I)
_LOCALCAL = re.compile(r"^\s*LocalCal\s+(\S+)\s*$", re.I)
_PARAM = re.compile(r"^\s*([A-Za-z]\w*)\s*=\s*([^#]*)(#.*)?$")
_NUMBERS = re.compile(r"^\s*[-+0-9.eE\s]+(#.*)?$")


def _ecs_blocks(text: str, p: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The FileSet parameters and each SourceCal's, as raw value text."""
    if "ECHOVIEW CALIBRATION SUPPLEMENT" not in text.upper():
        raise CalibrationFileError(
            f"calibration file {p} is not an Echoview .ecs file (no 'ECHOVIEW CALIBRATION "
            "SUPPLEMENT' header)"
        )
    block = None
    fileset: dict[str, str] = {}
    sources: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        m = _BLOCK.match(line.strip())
        if m:
            block = m.group(1).upper()
            current = fileset if block == "FILESET" else None
            last = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            last = None if stripped.startswith("#") else last
            continue
        if block == "SOURCECAL" and (m := _SOURCECAL.match(line)):
            current = sources.setdefault(m.group(1), {})
            last = None
            continue
        if block == "LOCALCAL" and _LOCALCAL.match(line):
            current, last = None, None
            continue
        if current is None:
            continue
        m = _PARAM.match(line)
        if m:
            last = m.group(1)
            current[last] = m.group(2).strip()
        elif last is not None and _NUMBERS.match(line):  # a value list goes on
            current[last] += " " + line.split("#")[0].strip()
        else:
            raise CalibrationFileError(f"calibration file {p}, line {n}: cannot read {stripped!r}")
    return fileset, sources


def _numbers(text: str, what: str, p: Path) -> np.ndarray:
    parts = text.split()
    if not parts:
        raise CalibrationFileError(f"calibration file {p}: {what} has no value")
    return np.array([_float(x, what, p) for x in parts])


def parse_ecs(text: str, p: Path) -> list[ChannelCalibration]:
    """The SourceCal wideband tables of an Echoview ``.ecs`` text (see the module
    docstring for the subset read)."""
    fileset, sources = _ecs_blocks(text, p)
    entries = []
    for name, params in sources.items():
        merged = {**fileset, **params}
        if "FrequencyTableWideband" not in merged or "GainTableWideband" not in merged:
            continue
        where = f"SourceCal {name}"
        f_khz = _numbers(merged["FrequencyTableWideband"], f"{where} FrequencyTableWideband", p)
        columns = {
            key: _numbers(merged[param], f"{where} {param}", p)
            for key, param in ECS_FIELDS
            if param in merged
        }
        table = _table(f_khz * 1e3, columns, p, where)
        if "Frequency" not in merged:
            raise CalibrationFileError(
                f"calibration file {p}: {where} has no Frequency (nominal, kHz) to match "
                "it to a channel"
            )
        nominal = _float(merged["Frequency"], f"{where} Frequency", p) * 1e3
        entries.append(
            ChannelCalibration.from_table(
                table,
                frequency_nominal=nominal,
                label=f"{where} ({nominal / 1e3:g} kHz)",
            )
        )
    return entries


def _num(x: float, digits: int = 4) -> str:
    if not np.isfinite(x):
        return "NaN"
    text = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def calibration_xml(entries: list[ChannelCalibration], header: dict[str, str]) -> str:
    """The EK80 calibration XML text of ``entries`` (see the module docstring); ``header``:
    extra attributes of the ``Header`` element (e.g. the sphere, the input files)."""
    from ts_toolkit import __version__

    root = ET.Element("Configuration")
    ET.SubElement(
        root,
        "Header",
        {
            "ApplicationName": "ts-toolkit calibrate",
            "Version": str(__version__),
            "FileFormatVersion": "1.0",
            **header,
        },
    )
    transceivers = ET.SubElement(root, "Transceivers")
    for e in entries:
        cid = e.channel_id or ""
        parts = cid.split()
        tname = " ".join(parts[:2]).rsplit("-", 1)[0] if len(parts) >= 2 else cid
        tcvr = ET.SubElement(transceivers, "Transceiver", {"TransceiverName": tname})
        channel = ET.SubElement(ET.SubElement(tcvr, "Channels"), "Channel", {"ChannelID": cid})
        attrs = {"TransducerName": e.transducer_name} if e.transducer_name else {}
        attrs |= {"Frequency": _num(e.frequency_nominal, 1), **e.extra}
        xdcr = ET.SubElement(channel, "Transducer", attrs)
        for i, fi in enumerate(e.frequency):
            row = {"Frequency": str(int(round(fi)))}
            for key, attr in XML_FIELDS:
                v = getattr(e, key)
                if v is not None:
                    row[attr] = _num(v[i])
            ET.SubElement(xdcr, "FrequencyPar", row)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
