"""Round trip: a target of known TS(f) -> writer -> echopype -> TS(f), range and angles back.

Two independent readers:

1. A minimal TS(f) chain written here on top of echopype's own replica construction
   (``echopype.calibrate.ek80_complex``): pulse compression, sector average, windowed DFT
   over the transmit autocorrelation, the Andersen et al. (2024) TS(f) equation — it
   shares no code with the writer.
2. The project's EK80 Source plugin (``get_source("ek80")``), if installed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ts_toolkit.errors import TsToolkitError
from ts_toolkit_plugins.ek80.synth import (
    Survey,
    SurveySettings,
    SyntheticTarget,
    default_channels,
    write_raw,
)

ep = pytest.importorskip("echopype")

F = np.arange(20e3, 300e3, 250.0)


def smooth_ts(f: np.ndarray) -> np.ndarray:
    """A smooth TS(f) with a few dB of structure (dB re 1 m²)."""
    return -42.0 + 3.0 * np.sin(2 * np.pi * f / 60e3) - 1.5 * np.cos(2 * np.pi * f / 23e3)


@pytest.fixture(scope="module")
def one_target(tmp_path_factory):
    chans = default_channels("120")
    settings = SurveySettings(chans, max_range=14.0, noise_db=-150.0)
    target = SyntheticTarget(0, 9.37, 1.2, -0.7, F, smooth_ts(F), "gas")
    path = tmp_path_factory.mktemp("rt") / "one.raw"
    write_raw(Survey(settings, [target], n_pings=1, seed=2), path)
    return path, settings, target


def _inner(f: np.ndarray, ch) -> np.ndarray:
    """Frequencies away from the band edges (5 % of the bandwidth trimmed at each end)."""
    lo, hi = ch.model.f_start, ch.model.f_stop
    trim = 0.05 * (hi - lo)
    return (f >= lo + trim) & (f <= hi - trim)


def test_independent_tsf_chain_recovers_ts(one_target):
    from echopype.calibrate.ek80_complex import get_filter_coeff, get_transmit_signal
    from echopype.utils.uwa import calc_absorption

    path, settings, target = one_target
    ch = settings.channels[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ed = ep.open_raw(str(path), sonar_model="EK80")
    beam = ed["Sonar/Beam_group1"]
    vend = ed["Vendor_specific"]
    coeff = get_filter_coeff(vend)
    fs = float(vend["receiver_sampling_frequency"].values[0])
    tx, _ = get_transmit_signal(beam, coeff, "BB", fs)
    y_mf = tx[ch.channel_id]
    b = beam.isel(channel=0, ping_time=0)
    u = (b["backscatter_r"] + 1j * b["backscatter_i"]).transpose("beam", "range_sample").values
    norm = np.linalg.norm(y_mf) ** 2
    y_pc = np.array([np.convolve(s, np.conj(y_mf[::-1]))[y_mf.size - 1 :] for s in u]) / norm
    y = y_pc.mean(axis=0)
    dt = float(b["sample_interval"].values)
    env = ed["Environment"].isel(time1=0)
    c = float(env["sound_speed_indicative"])
    peak = int(np.argmax(np.abs(y)))
    r_t = peak * dt * c / 2
    assert r_t == pytest.approx(target.range, abs=c * dt / 2)
    # split-beam angles at the peak (echopype's sector convention, sensitivity at f_c)
    fore, aft = y_pc[[2, 3], peak].mean(), y_pc[[0, 1], peak].mean()
    star, port = y_pc[[0, 3], peak].mean(), y_pc[[1, 2], peak].mean()
    f_c = 0.5 * (ch.model.f_start + ch.model.f_stop)
    gamma = ch.model.angle_sensitivity * f_c / ch.model.frequency_nominal
    al = np.degrees(np.arcsin(np.angle(fore * np.conj(aft)) / gamma))
    at = np.degrees(np.arcsin(np.angle(star * np.conj(port)) / gamma))
    assert al == pytest.approx(target.angle_along, abs=0.05)
    assert at == pytest.approx(target.angle_athwart, abs=0.05)
    # TS(f): window +-0.5 m, DFT ratio with the autocorrelation, Andersen et al. eq.
    auto = np.convolve(y_mf, np.conj(y_mf[::-1])) / norm
    a_pk = int(np.argmax(np.abs(auto)))
    half = int(round(1.0 / c / dt))
    k = np.arange(-half, half + 1)
    f = np.arange(ch.model.f_start, ch.model.f_stop + 1, 1000.0)
    kern = np.exp(-2j * np.pi * np.outer(f, k * dt))
    ratio = (kern @ y[peak + k]) / (kern @ auto[a_pk + k])
    z_rx = float(vend["impedance_transceiver"].sel(channel=ch.channel_id))
    cal = vend.sel(cal_channel_id=ch.channel_id)
    ok = np.isfinite(cal["gain"].values)
    z_td = float(cal["impedance_transducer"].values[ok][0])
    gain = np.interp(f, cal["cal_frequency"].values[ok], cal["gain"].values[ok])
    bw_al = np.interp(f, cal["cal_frequency"].values[ok], cal["beamwidth_alongship"].values[ok])
    bw_at = np.interp(f, cal["cal_frequency"].values[ok], cal["beamwidth_athwartship"].values[ok])
    p_rx = 4 * np.abs(ratio) ** 2 / 8 * abs(z_rx + z_td) ** 2 / z_rx**2 / z_td
    alpha = calc_absorption(
        f,
        float(env["temperature"]),
        float(env["salinity"]),
        float(env["depth"]),
        float(env["acidity"]),
        c,
        "FG",
    )
    x2, y2 = (2 * al / bw_al) ** 2, (2 * at / bw_at) ** 2
    comp = 6.0206 * (x2 + y2 - 0.18 * x2 * y2)
    p_tx = float(b["transmit_power"])
    ts = (
        10 * np.log10(p_rx)
        + 40 * np.log10(r_t)
        + 2 * alpha * r_t
        - 10 * np.log10(p_tx * (c / f) ** 2 * 10 ** (2 * gain / 10) / (16 * np.pi**2))
        + comp
    )
    inner = _inner(f, ch)
    err = ts[inner] - smooth_ts(f[inner])
    assert np.max(np.abs(err)) < 0.5, np.max(np.abs(err))
    assert abs(np.median(err)) < 0.1


def _ek80_source():
    from ts_toolkit.plugins import get_source

    try:
        return get_source("ek80")
    except TsToolkitError as exc:  # not installed
        pytest.skip(f"needs the EK80 Source plugin: {exc}")


def test_ek80_source_recovers_ts_range_and_angles(one_target):
    path, settings, target = one_target
    src = _ek80_source()
    ds = src.open(path)
    assert ds.sizes["target"] == 1
    ch = settings.channels[0]
    assert float(ds["range"][0]) == pytest.approx(target.range, abs=0.02)
    assert float(ds["angle_alongship"][0]) == pytest.approx(target.angle_along, abs=0.05)
    assert float(ds["angle_athwartship"][0]) == pytest.approx(target.angle_athwart, abs=0.05)
    f = ds["frequency"].values
    inner = _inner(f, ch)
    err = ds["TS"].values[0][inner] - smooth_ts(f[inner])
    assert np.all(np.isfinite(err))
    assert np.max(np.abs(err)) < 0.5, np.max(np.abs(err))


def test_ek80_source_multichannel_survey(tmp_path):
    """Three channels, three pings, a target in each: all found, merged over 45-260 kHz."""
    src = _ek80_source()
    chans = default_channels("70,120,200")
    settings = SurveySettings(chans, max_range=16.0, noise_db=-150.0)
    targets = [
        SyntheticTarget(p, r, al, at, F, smooth_ts(F) + d, "gas")
        for p, (r, al, at, d) in enumerate(
            [(6.3, 0.5, 0.4, 0.0), (9.8, -1.1, 0.9, -5.0), (12.6, 0.2, -1.6, 3.0)]
        )
    ]
    path = tmp_path / "three.raw"
    write_raw(Survey(settings, targets, n_pings=3, seed=9), path)
    ds = src.open(path)
    assert ds.sizes["target"] == 3
    order = np.argsort(ds["ping_time"].values)
    for i, t in zip(order, targets):
        assert float(ds["range"][i]) == pytest.approx(t.range, abs=0.02)
        assert float(ds["angle_alongship"][i]) == pytest.approx(t.angle_along, abs=0.05)
        f = ds["frequency"].values
        keep = np.zeros(f.size, bool)
        for ch in chans:
            keep |= _inner(f, ch)
        err = ds["TS"].values[i][keep] - (smooth_ts(f[keep]) + (t.ts[0] - smooth_ts(F[:1])[0]))
        ok = np.isfinite(err)
        assert ok.mean() > 0.95
        assert np.max(np.abs(err[ok])) < 0.5, np.max(np.abs(err[ok]))


def test_minimum_phase_targets_round_trip(tmp_path):
    src = _ek80_source()
    chans = default_channels("200")
    settings = SurveySettings(chans, max_range=12.0, noise_db=-150.0)
    target = SyntheticTarget(0, 7.7, -0.6, 1.1, F, smooth_ts(F), "gas")
    path = tmp_path / "mp.raw"
    write_raw(Survey(settings, [target], n_pings=1, seed=4, phase="minimum"), path)
    ds = src.open(path)
    assert ds.sizes["target"] == 1
    assert float(ds["range"][0]) == pytest.approx(target.range, abs=0.02)
    f = ds["frequency"].values
    inner = _inner(f, chans[0])
    err = ds["TS"].values[0][inner] - smooth_ts(f[inner])
    assert np.max(np.abs(err)) < 0.5


def test_match_targets_against_truth(tmp_path):
    """The truth file and :func:`match_targets` score a Source's output (demo/E2E use)."""
    from ts_toolkit.matching import match_targets
    from ts_toolkit_plugins.ek80.synth import truth_dataset

    src = _ek80_source()
    chans = default_channels("120,200")
    settings = SurveySettings(chans, max_range=16.0, noise_db=-150.0)
    targets = [
        SyntheticTarget(0, 6.3, 0.5, 0.4, F, smooth_ts(F), "gas"),
        SyntheticTarget(0, 11.8, -0.9, -1.0, F, smooth_ts(F) - 6, "liquid"),
        SyntheticTarget(1, 8.1, 1.4, 0.2, F, smooth_ts(F) + 2, "gas"),
    ]
    path = tmp_path / "m.raw"
    survey = Survey(settings, targets, n_pings=2, seed=6)
    write_raw(survey, path)
    truth = truth_dataset(survey, path)
    scores = match_targets(src.open(path), truth)
    assert bool(scores["detected"].all())
    assert scores.attrs["n_unmatched_found"] == 0
    assert float(np.abs(scores["range_error"]).max()) < 0.02
    assert float(np.abs(scores["angle_alongship_error"]).max()) < 0.05
    assert float(scores["ts_max_abs_error"].max()) < 0.5
    assert int(scores["ts_n_frequencies"].min()) > 100


def test_match_targets_without_a_reader():
    from ts_toolkit.matching import match_targets
    from ts_toolkit.spectra import make_spectra

    f = np.arange(90e3, 171e3, 1e3)
    truth = make_spectra(
        f,
        np.stack([-40 + 0 * f, -50 + 0 * f]),
        ping_time=np.array(["2025-01-01T12:00:01.000000Z"] * 2, dtype=object),
        range=np.array([5.0, 9.0]),
        angle_alongship=np.array([0.0, 1.0]),
        angle_athwartship=np.array([0.0, -1.0]),
    )
    found = make_spectra(
        f[::2],
        np.stack([-40.3 + 0 * f[::2], -20 + 0 * f[::2]]),
        ping_time=np.array(["2025-01-01T12:00:01"] * 2, dtype="datetime64[ns]"),
        range=np.array([9.01, 5.6]),
        angle_alongship=np.array([1.02, 0.0]),
        angle_athwartship=np.array([-1.0, 0.0]),
    )
    s = match_targets(found, truth)
    assert s["detected"].values.tolist() == [False, True]
    assert int(s["found_index"][1]) == 0
    assert float(s["range_error"][1]) == pytest.approx(0.01)
    assert float(s["ts_max_abs_error"][1]) == pytest.approx(9.7)
    assert s.attrs["n_unmatched_found"] == 1
