"""EK80 datagram encoding of the synthetic writer: framing, bodies, XML (no echopype)."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ts_toolkit.errors import InputFileError, InvalidParameterError
from ts_toolkit_plugins.ek80.absorption import francois_garrison
from ts_toolkit_plugins.ek80.environment import Environment, mackenzie_sound_speed
from ts_toolkit_plugins.ek80.synth import raw_format as rf
from ts_toolkit_plugins.ek80.synth.config_xml import (
    configuration_xml,
    environment_xml,
    parameter_xml,
)
from ts_toolkit_plugins.ek80.synth.settings import default_channels, transducer
from ts_toolkit_plugins.ek80.synth.transmit import design_stages, tapered_chirp


def test_nt_time_round_trip_and_known_value():
    when = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    low, high = rf.nt_time(when)
    assert rf.from_nt_time(low, high) == when
    # 1970-01-01 is 11644473600 s after 1601-01-01
    low, high = rf.nt_time(datetime(1970, 1, 1, tzinfo=UTC))
    assert (high << 32) | low == 11_644_473_600 * 10_000_000


def test_frame_layout_lengths_and_padding():
    when = datetime(2025, 1, 1, tzinfo=UTC)
    dg = rf.xml_datagram(when, "<Parameter/>")
    (length,) = struct.unpack_from("<i", dg, 0)
    assert dg[4:8] == b"XML0"
    assert length == len(dg) - 8  # type + time + body
    assert struct.unpack_from("<i", dg, len(dg) - 4)[0] == length
    assert (length - 12) % 4 == 0  # body NUL-padded to 4 bytes


def test_datagram_round_trip(tmp_path):
    when = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal((37, 4)) + 1j * rng.standard_normal((37, 4))).astype(
        np.complex64
    )
    coeffs = (rng.standard_normal(21) + 1j * rng.standard_normal(21)).astype(np.complex64)
    cid = "WBT 745001-1 ES120-7C"
    path = tmp_path / "x.raw"
    path.write_bytes(
        rf.xml_datagram(when, "<Configuration/>")
        + rf.filter_datagram(when, cid, 2, coeffs, 4)
        + rf.nmea_datagram(when, rf.nmea_sentence("GPGGA,120000.00,6000.0000,N"))
        + rf.mru_datagram(when, heading=90.0)
        + rf.raw3_datagram(when + timedelta(seconds=1), cid, samples)
    )
    dgs = list(rf.iter_datagrams(path))
    assert [d.kind for d in dgs] == ["XML0", "FIL1", "NME0", "MRU0", "RAW3"]
    assert dgs[0].time == when and dgs[4].time == when + timedelta(seconds=1)
    assert dgs[0].body.rstrip(b"\x00") == b"<Configuration/>"
    ch, stage, dec, back = rf.decode_fil1(dgs[1].body)
    assert (ch, stage, dec) == (cid, 2, 4)
    np.testing.assert_array_equal(back, coeffs)
    assert (
        dgs[2]
        .body.rstrip(b"\x00")
        .decode()
        .endswith("*" + rf.nmea_checksum("GPGGA,120000.00,6000.0000,N"))
    )
    assert struct.unpack("<4f", dgs[3].body) == (0.0, 0.0, 0.0, 90.0)
    ch, offset, got = rf.decode_raw3(dgs[4].body)
    assert (ch, offset) == (cid, 0)
    np.testing.assert_array_equal(got, samples)
    # data type word: 4 complex sectors, complex float32
    assert struct.unpack_from("<h", dgs[4].body, 128)[0] == (4 << 8) | 0b1000


def test_truncated_file_is_a_clear_error(tmp_path):
    when = datetime(2025, 1, 1, tzinfo=UTC)
    path = tmp_path / "t.raw"
    path.write_bytes(rf.xml_datagram(when, "<Configuration/>")[:-6])
    with pytest.raises(InputFileError, match="t.raw"):
        list(rf.iter_datagrams(path))


def test_bad_inputs_raise_user_errors():
    when = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidParameterError):
        rf.raw3_datagram(when, "x" * 129, np.zeros((3, 4), np.complex64))
    with pytest.raises(InvalidParameterError):
        rf.raw3_datagram(when, "a", np.zeros(3, np.complex64))
    with pytest.raises(InvalidParameterError, match="unknown channel"):
        transducer("333")


def test_configuration_xml_has_ek80_names_and_our_values():
    chans = default_channels("38,200")
    root = ET.fromstring(configuration_xml(chans).encode())
    assert root.tag == "Configuration"
    channels = root.findall("./Transceivers/Transceiver/Channels/Channel")
    assert [c.get("ChannelID") for c in channels] == [c.channel_id for c in chans]
    xd = channels[1].find("Transducer")
    assert float(xd.get("Frequency")) == 200e3
    assert xd.get("BeamType") == "1"
    assert float(xd.get("AngleSensitivityAlongship")) == 23.0
    rows = xd.findall("FrequencyPar")
    freqs = np.array([int(r.get("Frequency")) for r in rows])
    assert freqs[0] == 160_000 and freqs[-1] == 260_000 and np.all(np.diff(freqs) > 0)
    gains = np.array([float(r.get("Gain")) for r in rows])
    np.testing.assert_allclose(gains, chans[1].model.gain_db(freqs), atol=1e-4)
    tcvr = root.find("./Transceivers/Transceiver")
    assert tcvr.get("Impedance") == "5400" and tcvr.get("TransceiverType") == "WBT"


def test_environment_and_parameter_xml():
    env = Environment(temperature=10.0, salinity=34.0, depth=50.0)
    e = ET.fromstring(environment_xml(env).encode())
    assert float(e.get("SoundSpeed")) == pytest.approx(env.c)
    assert e.find("Transducer") is not None
    ch = default_channels("120")[0]
    p = ET.fromstring(parameter_xml(ch).encode()).find("Channel")
    assert p.get("PulseForm") == "1"  # FM
    assert float(p.get("SampleInterval")) == ch.sample_interval == 8e-6
    assert float(p.get("FrequencyStart")) == 90e3 and float(p.get("FrequencyEnd")) == 170e3


def test_environment_formulas_reference_values():
    # Mackenzie (1981) check value: T=25 °C, S=35 PSU, D=1000 m -> 1550.744 m/s
    assert mackenzie_sound_speed(25.0, 35.0, 1000.0) == pytest.approx(1550.744, abs=0.01)
    # Francois-Garrison at 120 kHz, 8 °C, 35 PSU, 20 m, pH 8: about 38-40 dB/km
    alpha = francois_garrison(np.array([120e3]), 8.0, 35.0, 20.0, 8.0, 1483.0)[0]
    assert 0.035 < alpha < 0.042


def test_chirp_and_filters():
    y = tapered_chirp(90e3, 170e3, 2.048e-3, 0.0109, 1.5e6)
    assert y.size == 3072 and np.max(y) == 1.0
    assert y[0] == 0.0 and y[-1] == 0.0  # Hann ends
    s1, s2 = design_stages(90e3, 170e3, 1.5e6, (6, 2))
    assert (s1.decimation, s2.decimation) == (6, 2)
    assert s1.coefficients.dtype == np.complex64 and s1.coefficients.size % 2 == 1
    # passes the positive band, rejects the negative one
    f = np.array([130e3, -130e3])
    n = np.arange(s1.coefficients.size)
    h = np.exp(-2j * np.pi * np.outer(f, n) / 1.5e6) @ s1.coefficients
    assert abs(h[0]) == pytest.approx(1.0, abs=1e-3) and abs(h[1]) < 1e-3
