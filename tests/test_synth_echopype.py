"""A synthetic EK80 file opens in echopype without warnings and decodes to what we wrote."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from ts_toolkit_plugins.ek80.synth import (
    Survey,
    SurveySettings,
    SyntheticTarget,
    default_channels,
    write_raw,
)
from ts_toolkit_plugins.ek80.synth.survey import channel_stages

ep = pytest.importorskip("echopype")

F = np.arange(20e3, 300e3, 500.0)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def open_strict(path):
    """``echopype.open_raw`` turning every Python warning into an error and collecting
    echopype's logged warnings."""
    handler = _Collect()
    loggers = [
        logging.getLogger(name)
        for name in list(logging.Logger.manager.loggerDict)
        if name.startswith("echopype")
    ] + [logging.getLogger("echopype")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ed = ep.open_raw(str(path), sonar_model="EK80")
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    return ed, [r.getMessage() for r in handler.records]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    chans = default_channels("70,200")
    settings = SurveySettings(chans, max_range=12.0, noise_db=-150.0)
    targets = [
        SyntheticTarget(0, 6.0, 1.0, -0.5, F, -45 + 2 * np.sin(F / 2e4), "gas"),
        SyntheticTarget(2, 9.5, -0.8, 1.2, F, -50 + 0 * F, "liquid"),
    ]
    survey = Survey(settings, targets, n_pings=3, seed=11)
    path = tmp_path_factory.mktemp("synth") / "small.raw"
    kept: dict = {}
    write_raw(survey, path, keep_samples=kept)
    ed, messages = open_strict(path)
    return survey, path, kept, ed, messages


def test_opens_without_warnings(written):
    _, _, _, ed, messages = written
    assert messages == []
    assert "Sonar/Beam_group1" in ed.group_paths


def test_decodes_to_the_samples_written(written):
    survey, _, kept, ed, _ = written
    beam = ed["Sonar/Beam_group1"]
    assert beam.sizes["ping_time"] == survey.n_pings
    assert beam.sizes["beam"] == 4
    for ch in survey.settings.channels:
        n = survey.n_samples(ch)
        re = beam["backscatter_r"].sel(channel=ch.channel_id).values  # (ping, sample, beam)
        im = beam["backscatter_i"].sel(channel=ch.channel_id).values
        for p in range(survey.n_pings):
            want = kept[(p, ch.channel_id)]  # (sample, sector)
            assert want.shape == (n, 4)
            np.testing.assert_array_equal(re[p, :n, :], want.real.astype(np.float64))
            np.testing.assert_array_equal(im[p, :n, :], want.imag.astype(np.float64))
            assert np.all(np.isnan(re[p, n:, :]))  # shorter channel padded by echopype


def test_ping_times_and_transmit_parameters(written):
    survey, _, _, ed, _ = written
    beam = ed["Sonar/Beam_group1"]
    want = np.array(
        [
            np.datetime64(survey.ping_time(p).replace(tzinfo=None), "ns")
            for p in range(survey.n_pings)
        ]
    )
    np.testing.assert_array_equal(beam["ping_time"].values, want)
    for ch in survey.settings.channels:
        b = beam.sel(channel=ch.channel_id)
        m = ch.model
        assert np.all(b["transmit_frequency_start"].values == m.f_start)
        assert np.all(b["transmit_frequency_stop"].values == m.f_stop)
        assert np.all(b["transmit_duration_nominal"].values == pytest.approx(m.pulse_duration))
        assert np.all(b["transmit_power"].values == m.transmit_power)
        assert np.all(b["slope"].values == pytest.approx(m.slope))
        assert np.all(b["sample_interval"].values == pytest.approx(ch.sample_interval))
        assert np.all(b["transmit_type"].values == "LFM")
        assert int(b["beam_type"]) == 1
        assert float(b["frequency_nominal"]) == m.frequency_nominal
        assert float(b["angle_sensitivity_alongship"]) == m.angle_sensitivity
        assert float(b["beamwidth_twoway_athwartship"]) == m.beamwidth
        assert float(b["equivalent_beam_angle"]) == m.equivalent_beam_angle


def test_filters_calibration_and_environment(written):
    survey, _, _, ed, _ = written
    vend = ed["Vendor_specific"]
    for ch in survey.settings.channels:
        v = vend.sel(channel=ch.channel_id).isel(filter_time=0)
        s1, s2 = channel_stages(ch)
        for name, st in (("WBT", s1), ("PC", s2)):
            c = (
                (v[f"{name}_coeffs_real"] + 1j * v[f"{name}_coeffs_imag"])
                .dropna(f"{name}_filter_n")
                .values
            )
            np.testing.assert_array_equal(c, st.coefficients.astype(np.complex128))
            assert int(v[f"{name}_deci_fac"]) == st.decimation
        assert float(v["impedance_transceiver"]) == ch.z_receiver
        assert float(v["receiver_sampling_frequency"]) == ch.fs
        cal = vend.sel(cal_channel_id=ch.channel_id)
        f = cal["cal_frequency"].values
        ok = np.isfinite(cal["gain"].values)
        np.testing.assert_array_equal(f[ok], ch.calibration_frequencies())
        np.testing.assert_allclose(cal["gain"].values[ok], ch.model.gain_db(f[ok]), atol=1e-4)
        np.testing.assert_allclose(
            cal["beamwidth_alongship"].values[ok], ch.model.beamwidths(f[ok]), atol=1e-4
        )
        assert np.all(cal["impedance_transducer"].values[ok] == ch.z_transducer)
    env = ed["Environment"].isel(time1=0)
    e = survey.settings.environment
    assert float(env["temperature"]) == e.temperature
    assert float(env["salinity"]) == e.salinity
    assert float(env["depth"]) == e.depth
    assert float(env["acidity"]) == e.acidity
    assert float(env["sound_speed_indicative"]) == pytest.approx(e.c)


def test_echopype_time_domain_ts_matches(written, tmp_path):
    """echopype's own EK80 BB calibration (compute_TS) gives the target's TS at the
    compressed peak, once its TVG range shift (r - c tau / 4) is undone."""
    chans = default_channels("120")
    settings = SurveySettings(chans, max_range=13.0, noise_db=-160.0)
    survey = Survey(settings, [SyntheticTarget(0, 10.0, 0.0, 0.0, F, -40 + 0 * F)], 1, 1)
    path = tmp_path / "flat.raw"
    write_raw(survey, path)
    ed, messages = open_strict(path)
    assert messages == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = ep.calibrate.compute_TS(ed, waveform_mode="BB", encode_mode="complex")
    v = ts["TS"].isel(channel=0, ping_time=0).values
    r = ts["echo_range"].isel(channel=0, ping_time=0).values
    i = int(np.nanargmax(v))
    assert r[i] == pytest.approx(10.0, abs=0.01)
    tau = chans[0].model.pulse_duration
    c = settings.environment.c
    undo = 40 * np.log10((r[i] - c * tau / 4) / r[i])
    assert v[i] - undo == pytest.approx(-40.0, abs=0.2)
