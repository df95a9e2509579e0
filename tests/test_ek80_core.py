"""ek80 plugin: the array-based chain on synthetic echoes (no .raw file needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ts_toolkit_plugins.ek80.absorption import francois_garrison
from ts_toolkit_plugins.ek80.angles import beam_compensation
from ts_toolkit_plugins.ek80.calibration import Calibration
from ts_toolkit_plugins.ek80.chirp import ideal_chirp
from ts_toolkit_plugins.ek80.core import Replica, band_grid, process_ping
from ts_toolkit_plugins.ek80.detection import DetectionSettings
from ts_toolkit_plugins.ek80.merge import merge_targets
from ts_toolkit_plugins.ek80.pulse_compression import pulse_compress
from ts_toolkit_plugins.ek80.sphere import ElasticSphere, elastic_sphere_ts
from ts_toolkit_plugins.ek80.synth.ping import PointTarget, synthetic_ping


def sloped(f: np.ndarray) -> np.ndarray:
    return -45.0 + 10 * np.log10(f / 120e3) + 1.5 * np.sin(f / 9e3)


def _inner(f: np.ndarray, f0: float, f1: float, frac: float = 0.05) -> np.ndarray:
    width = f1 - f0
    return (f >= f0 + frac * width) & (f <= f1 - frac * width)


def test_chirp_is_tapered_and_normalised() -> None:
    y = ideal_chirp(90e3, 170e3, 1.024e-3, 0.1, 1.5e6)
    assert y.size == 1536
    assert np.max(np.abs(y)) == pytest.approx(1.0)
    assert abs(y[0]) < 1e-12  # Hann taper starts at zero


def test_pulse_compression_peak_at_echo_delay() -> None:
    ping = synthetic_ping([])
    rep = Replica.build(ping)
    x = np.zeros(600, complex)
    x[137 : 137 + rep.y_mf.size] += 0.3 * rep.y_mf[: 600 - 137]
    y = pulse_compress(x[None, :], rep.y_mf)[0]
    assert int(np.argmax(np.abs(y))) == 137
    assert abs(y[137]) == pytest.approx(0.3, rel=1e-3)


@pytest.mark.parametrize("beam_type", [1, 17])
def test_synthetic_point_targets_round_trip(beam_type: int) -> None:
    targets = [PointTarget(5.0, -40.0, 1.2, -0.8), PointTarget(8.3, sloped, -2.0, 1.5)]
    ping = synthetic_ping(targets, beam_type=beam_type)
    result = process_ping(ping, DetectionSettings(min_ts=-60))
    assert len(result.targets) == 2
    f = result.frequency
    inner = _inner(f, ping.f_start, ping.f_stop)
    for found, true in zip(result.targets, targets, strict=True):
        assert found["range"] == pytest.approx(true.range, abs=0.005)
        assert found["angle_alongship"] == pytest.approx(true.angle_along, abs=0.02)
        assert found["angle_athwartship"] == pytest.approx(true.angle_athwart, abs=0.02)
        err = np.abs(found["TS"] - true.ts_at(f))
        assert np.nanmax(err[inner]) < 0.2
        assert 0.8 < found["echo_length"] < 1.2


def test_synthetic_with_calibration_table_and_offsets() -> None:
    freq = np.linspace(85e3, 175e3, 31)
    cal = Calibration(
        frequency_nominal=120e3,
        gain=27.0,
        beamwidth_along=7.0,
        beamwidth_athwart=7.2,
        offset_along=0.1,
        offset_athwart=-0.05,
        sensitivity_along=23.0,
        sensitivity_athwart=23.0,
        z_transducer=75.0,
        z_receiver=5400.0,
        table={
            "frequency": freq,
            "gain": 26 + 0.5 * np.sin(freq / 1e4),
            "beamwidth_along": 8.0 * 120e3 / freq,
            "beamwidth_athwart": 8.1 * 120e3 / freq,
            "offset_along": np.full(freq.size, 0.12),
            "offset_athwart": np.full(31, -0.1),
        },
    )
    assert cal.source == "calibration table"
    target = PointTarget(6.0, -42.0, 1.0, 1.0)
    ping = synthetic_ping([target], calibration=cal, noise=1e-7, rng=np.random.default_rng(3))
    result = process_ping(ping)
    (t,) = result.targets
    inner = _inner(result.frequency, ping.f_start, ping.f_stop)
    assert np.nanmax(np.abs(t["TS"][inner] + 42.0)) < 0.2
    assert t["angle_alongship"] == pytest.approx(1.0 - 0.12, abs=0.03)
    assert t["angle_athwartship"] == pytest.approx(1.0 + 0.1, abs=0.03)


def test_detection_criteria_reject() -> None:
    ping = synthetic_ping([PointTarget(5.0, -40.0, 4.5, 0.0), PointTarget(9.0, -70.0)])
    result = process_ping(ping, DetectionSettings(min_ts=-60, max_beam_compensation=6.0))
    assert result.targets == []  # one too far off axis, one too weak
    assert result.counts["beam_compensation"] == 1
    # two targets closer than min_separation: only the stronger survives
    ping = synthetic_ping([PointTarget(5.0, -40.0), PointTarget(5.3, -46.0)])
    result = process_ping(ping, DetectionSettings(min_separation=0.5))
    assert [round(t["range"], 1) for t in result.targets] == [5.0]


def test_beam_compensation_model() -> None:
    assert beam_compensation(0.0, 0.0, 7.0, 7.0) == 0.0
    assert beam_compensation(3.5, 0.0, 7.0, 7.0) == pytest.approx(6.0206)


def test_francois_garrison_reference_values() -> None:
    # ~10 dB/km at 38 kHz and ~36-38 dB/km at 120 kHz in temperate sea water
    assert francois_garrison(38e3, 10, 35, 0, 8.0) * 1e3 == pytest.approx(10.2, abs=0.5)
    assert francois_garrison(120e3, 9.7, 32, 5, 8.0, 1485.4) == pytest.approx(0.036, abs=0.002)


def test_elastic_sphere_reference_values() -> None:
    # 38.1 mm tungsten carbide, the standard EK calibration sphere: -42.4 dB at 38 kHz,
    # -39.5 dB at 120 kHz (Foote et al. 1987; MacLennan 1981)
    ts = elastic_sphere_ts([38e3, 120e3], 0.0381 / 2, c_w=1490.0, rho_w=1026.0)
    np.testing.assert_allclose(ts, [-42.4, -39.5], atol=0.15)
    sim = ElasticSphere()
    out = sim.ts(np.array([38e3, 120e3]), a=[0.01905, 0.0175])
    assert out.shape == (2, 2)


def test_band_grid_and_merge() -> None:
    g1, g2 = band_grid(34e3, 45e3, 1e3), band_grid(90e3, 170e3, 1e3)
    assert g1[0] == 34e3 and g1[-1] == 45e3 and g2.size == 81
    t0 = np.datetime64("2024-01-01T00:00:00")
    a = {
        "channel": "38",
        "ping_time": t0,
        "range": 10.0,
        "frequency": g1,
        "TS": np.full(g1.size, -40.0),
        "angle_alongship": 1.0,
        "angle_athwartship": 0.0,
        "beam_compensation": 0.3,
    }
    b = {
        "channel": "120",
        "ping_time": t0,
        "range": 10.04,
        "frequency": g2,
        "TS": np.full(g2.size, -42.0),
        "angle_alongship": 1.1,
        "angle_athwartship": 0.1,
        "beam_compensation": 0.5,
    }
    c = dict(b, range=12.0)
    merged = merge_targets([a, b, c], range_tolerance=0.1)
    assert len(merged) == 2
    m = merged[0]
    assert m["members"] == 2 and m["channel"] == "38+120"
    assert m["frequency"].size == g1.size + g2.size
    assert m["angle_alongship"] == 1.0


def test_bottom_guard_drops_targets_near_and_below_a_strong_seabed_echo() -> None:
    targets = [
        PointTarget(5.0, -40.0),
        PointTarget(8.8, -40.0),
        PointTarget(9.0, 5.0),
        PointTarget(10.5, -40.0),
    ]
    ping = synthetic_ping(targets, n_samples=2000)
    result = process_ping(ping, DetectionSettings(min_ts=-60, min_separation=0.1))
    assert [round(t["range"], 1) for t in result.targets] == [5.0]
    assert result.bottom == pytest.approx(9.0, abs=0.05)
    result = process_ping(
        ping,
        DetectionSettings(min_ts=-60, min_separation=0.1, bottom_sp=None, max_beam_compensation=99),
    )
    assert 5.0 in [round(t["range"], 1) for t in result.targets]
    assert len(result.targets) >= 3


def test_noisy_target_still_within_tolerance() -> None:
    """Complex Gaussian noise of 1e-4 V rms per sector (the echo's raw amplitude is ~6e-3
    V): TS(f) within 0.3 dB, angles within 0.02 deg."""
    target = PointTarget(7.0, -50.0, 0.5, -0.7)
    ping = synthetic_ping([target], noise=1e-4, rng=np.random.default_rng(11))
    (t,) = process_ping(ping, DetectionSettings(min_ts=-55)).targets
    f = band_grid(ping.f_start, ping.f_stop, 1e3)
    inner = _inner(f, ping.f_start, ping.f_stop, 0.1)
    assert np.max(np.abs(t["TS"][inner] + 50.0)) < 0.3
    assert t["TS_centre"] == pytest.approx(-50.0, abs=0.2)
    assert t["angle_alongship"] == pytest.approx(0.5, abs=0.02)
    assert t["angle_athwartship"] == pytest.approx(-0.7, abs=0.02)


def test_sidelobe_criterion_rejects_only_echoes_under_the_sidelobe_envelope() -> None:
    from ts_toolkit_plugins.ek80.detection import _sidelobe_test

    acf = np.full(41, 1e-6)
    acf[20] = 1.0
    acf[30] = 1e-3  # a -30 dB side lobe 10 samples after the peak
    test = _sidelobe_test(acf, 10.0)
    power = np.full(200, 1e-12)
    power[50] = 1.0  # strong echo
    power[60] = 5e-3  # -23 dB, at the side lobe's lag: within 10 dB of it -> side lobe
    power[40] = 5e-3  # same level before the echo, where the replica has no side lobe
    power[120] = 5e-3  # beyond the replica's reach
    assert test(power, 60, [50])
    assert not test(power, 40, [50])
    assert not test(power, 120, [50])
    power[60] = 2e-2  # -17 dB: more than 10 dB above the side lobe -> a real target
    assert not test(power, 60, [50])
    assert _sidelobe_test(acf, None) is None
