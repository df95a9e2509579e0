"""The fast paths of the EK80 chain give the numbers of the direct formulas they replace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from ts_toolkit_plugins.ek80.detection import fourier_upsample, sidelobe_envelope
from ts_toolkit_plugins.ek80.merge import merge_targets
from ts_toolkit_plugins.ek80.pulse_compression import pulse_compress
from ts_toolkit_plugins.ek80.reader import _complex_sectors
from ts_toolkit_plugins.ek80.tsf import dtft, window_spectrum

RNG = np.random.default_rng(32)


def _complex(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


@pytest.mark.parametrize("n", [3, 4, 17, 32, 33, 64, 65])
def test_fourier_upsample_is_scipy_resample(n: int) -> None:
    x = _complex(n)
    assert np.array_equal(fourier_upsample(x, 8), sps.resample(x, 8 * n))


def test_pulse_compress_is_the_fft_correlation() -> None:
    x, y_mf = _complex(4, 3000), _complex(175)
    kernel = np.conj(y_mf[::-1]) / np.vdot(y_mf, y_mf).real
    full = sps.fftconvolve(x, kernel[None, :], mode="full", axes=-1)
    expected = full[:, len(y_mf) - 1 : len(y_mf) - 1 + x.shape[-1]]
    got = pulse_compress(x, y_mf)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    # a second call (the replica's spectrum now cached) gives the same numbers
    assert np.array_equal(pulse_compress(x, y_mf), got)


def test_pulse_compress_counts_nan_samples_as_zero() -> None:
    x, y_mf = _complex(3, 500), _complex(40)
    bad = x.copy()
    bad[1, 100], bad[2, 7] = np.nan, complex(0.5, np.nan)
    clean = x.copy()
    clean[1, 100], clean[2, 7] = 0, 0.5
    assert np.array_equal(pulse_compress(bad, y_mf), pulse_compress(clean, y_mf))
    assert np.isfinite(pulse_compress(bad, y_mf)).all()


@pytest.mark.parametrize("peak", [3, 400, 996])  # the window is cut at both ends
def test_window_spectrum_is_the_direct_dtft(peak: int) -> None:
    y, y_auto = _complex(4, 1000), _complex(101)
    y_auto[50] = 10.0  # the autocorrelation's peak
    frequency, dt, half = np.arange(90e3, 171e3, 1e3), 8e-6, 30
    left, right = min(half, peak, 50), min(half, 999 - peak, 50)
    k = np.arange(-left, right + 1)
    num = dtft(y[..., peak + k].T, frequency, dt, k).T
    den = dtft(y_auto[50 + k], frequency, dt, k)
    for _ in range(2):  # built, then from the cache
        got = window_spectrum(y, peak, y_auto, half, frequency, dt)
        np.testing.assert_allclose(got, num / den, rtol=1e-12)
    with pytest.raises(ValueError):  # the cached matrix cannot be changed by a caller
        from ts_toolkit_plugins.ek80.tsf import _kernel

        _kernel(frequency.tobytes(), dt, left, right)[0, 0] = 0


def test_sidelobe_envelope_is_the_largest_within_two_samples() -> None:
    acf = RNG.random(41)
    expected = np.array([max(acf[(i + k) % 41] for k in range(-2, 3)) for i in range(41)])
    assert np.array_equal(sidelobe_envelope(acf), expected)


def test_complex_sectors_cuts_padding_drops_empty_sectors_and_zeroes_bad_samples() -> None:
    real, imag = RNG.normal(size=(50, 4)), RNG.normal(size=(50, 4))  # sample, sector
    real[40:], imag[40:] = np.nan, np.nan  # echopype's padding to the longest ping
    real[:, 3], imag[:, 3] = np.nan, np.nan  # a sector without samples
    imag[5, 1] = np.nan  # one bad sample inside the ping
    s = _complex_sectors(real, imag)
    assert s.shape == (3, 40)
    assert s[1, 5] == 0
    expected = real[:40, :3].T + 1j * imag[:40, :3].T
    expected[1, 5] = 0
    assert np.array_equal(s, expected)
    assert _complex_sectors(np.full((5, 4), np.nan), np.full((5, 4), np.nan)) is None


def test_merge_groups_only_targets_close_in_time_and_range() -> None:
    t0 = np.datetime64("2026-01-01T00:00:00", "ns")

    def target(channel: str, seconds: float, rng: float, f0: float) -> dict:
        return {
            "channel": channel,
            "ping_time": t0 + np.timedelta64(int(seconds * 1e9), "ns"),
            "range": rng,
            "frequency": np.array([f0, f0 + 1e3]),
            "TS": np.array([-50.0, -51.0]),
            "angle_alongship": 0.1,
            "beam_compensation": 0.2,
        }

    targets = [
        target("ES120", 1.0, 10.02, 120e3),
        target("ES70", 3.0, 10.0, 70e3),  # 2 s later: another ping
        target("ES70", 1.0, 10.0, 70e3),
        target("ES200", 1.2, 10.05, 200e3),
        target("ES200", 1.0, 20.0, 200e3),  # same ping, another range
    ]
    merged = merge_targets(targets, range_tolerance=0.1, time_tolerance=0.5)
    labels = sorted((m["channel"], m["members"]) for m in merged)
    assert labels == [("ES200", 1), ("ES70", 1), ("ES70+ES120+ES200", 3)]
