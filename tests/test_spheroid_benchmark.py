"""Jech et al. (2015) prolate spheroid benchmark (a = 0.07 m, b = 0.01 m).

Data: tests/data/jech2015_prolate_*.csv (Jech et al. 2015, JASA 138:3742,
doi:10.1121/1.4937607, as distributed with echoSMs).

Findings recorded in docs/physics.md and asserted here:
* rigid / pressure-release: the benchmark is the modal series with Furusawa's truncation
  (M = ceil(2 k b), n <= M + ceil(c0/2)); with that truncation we reproduce every angle value
  to <= 0.006 dB; our converged series differs only near end-on (rigid 0 deg: -69.17 vs
  -69.70 dB).
* weakly scattering: the benchmark column (frequency *and* angle) equals the DWBA
  (distorted-wave Born approximation) to the table's rounding, not an exact solution.
  The exact series agrees with it within the acceptance classes at broadside vs frequency,
  but not at oblique angles (strict xfail below, with numbers).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _spheroid_helpers import JECH, load_table, tolerance
from scipy.special import spherical_jn

from ts_toolkit_plugins.spheroid.prolate import backscatter_amplitude

FREQ = load_table("jech2015_prolate_frequency.csv")
ANGLE = load_table("jech2015_prolate_angle.csv")
BOUNDARY = {"rigid": "rigid", "pressure_release": "pressure-release", "weakly_scattering": "fluid"}


def _ts(freq_hz, theta, boundary, **trunc):
    fbs, ok = backscatter_amplitude(
        np.atleast_1d(np.asarray(freq_hz, dtype=float)),
        JECH["a"],
        JECH["b"],
        float(theta),
        JECH["rho_s"],
        JECH["c_s"],
        JECH["rho_w"],
        JECH["c_w"],
        boundary,
        **trunc,
    )
    assert ok.all()
    return 20 * np.log10(np.abs(fbs))


def _dwba(freq_hz: np.ndarray, theta: float) -> np.ndarray:
    """DWBA backscatter TS of the weakly scattering Jech spheroid (for the finding above)."""
    g, h = JECH["rho_s"] / JECH["rho_w"], JECH["c_s"] / JECH["c_w"]
    k = 2 * np.pi * np.asarray(freq_hz) / JECH["c_w"]
    t = np.radians(theta)
    big_k = 2 * k / h * np.sqrt((JECH["a"] * np.cos(t)) ** 2 + (JECH["b"] * np.sin(t)) ** 2)
    vol = 4 / 3 * np.pi * JECH["a"] * JECH["b"] ** 2
    f = k**2 / (4 * np.pi) * ((1 / (g * h * h) - 1) - (1 - 1 / g)) * vol
    f = f * 3 * spherical_jn(1, big_k) / big_k
    return 20 * np.log10(np.abs(f))


@pytest.mark.parametrize("case", ["rigid", "pressure_release", "weakly_scattering"])
def test_frequency_broadside(case: str) -> None:
    fk, bench = FREQ["frequency_khz"], FREQ[case]
    sel = np.isfinite(bench)
    if case == "weakly_scattering":
        sel &= fk <= 260  # full 12-400 kHz run: test_frequency_broadside_weak_full (slow)
    ours = _ts(fk[sel] * 1e3, 90.0, BOUNDARY[case])
    tol = tolerance(fk[sel], bench[sel], 10.0)
    diff = np.abs(ours - bench[sel])
    bad = diff > tol
    assert not bad.any(), list(zip(fk[sel][bad], diff[bad].round(3), tol[bad], strict=True))


@pytest.mark.slow
def test_frequency_broadside_weak_full() -> None:
    fk, bench = FREQ["frequency_khz"], FREQ["weakly_scattering"]
    ours = _ts(fk * 1e3, 90.0, "fluid")
    tol = tolerance(fk, bench, 10.0)
    diff = np.abs(ours - bench)
    assert (diff <= tol).all(), list(zip(fk[diff > tol], diff[diff > tol].round(3), strict=True))


@pytest.mark.parametrize("case", ["rigid", "pressure_release"])
def test_angle_38khz(case: str) -> None:
    ang, bench = ANGLE["angle_deg"], ANGLE[case]
    sel = ang >= 40
    ours = np.array([_ts(38e3, t, BOUNDARY[case])[0] for t in ang[sel]])
    tol = tolerance(ang[sel], bench[sel], 10.0)
    diff = np.abs(ours - bench[sel])
    assert (diff <= tol).all(), list(zip(ang[sel][diff > tol], diff[diff > tol], strict=True))


def _furusawa_truncation(freq_hz: float) -> tuple[int, int]:
    kw = 2 * math.pi * freq_hz / JECH["c_w"]
    c0 = kw * math.sqrt(JECH["a"] ** 2 - JECH["b"] ** 2)
    m_max = math.ceil(2 * kw * JECH["b"])
    return m_max, m_max + math.ceil(c0 / 2)


@pytest.mark.parametrize("case", ["rigid", "pressure_release"])
def test_small_angles_are_benchmark_truncation(case: str) -> None:
    """theta < 40 deg: the benchmark is the under-truncated series.

    With Furusawa's truncation we reproduce it to <= 0.01 dB at every angle; the converged
    value differs end-on by 0.53 dB (rigid) and 0.24 dB (pressure release) and is itself
    stable to < 0.001 dB when the truncation is raised by (+6, +16).
    """
    ang, bench = ANGLE["angle_deg"], ANGLE[case]
    trunc = _furusawa_truncation(38e3)
    under = np.array([_ts(38e3, t, BOUNDARY[case], fixed_truncation=trunc)[0] for t in ang])
    assert np.abs(under - bench).max() <= 0.01
    for theta in (0.0, 10.0, 20.0):
        conv = _ts(38e3, theta, BOUNDARY[case])[0]
        more = _ts(38e3, theta, BOUNDARY[case], extra_m=6, extra_n=16)[0]
        assert abs(conv - more) < 0.001
    end_on = _ts(38e3, 0.0, BOUNDARY[case])[0]
    expected = {"rigid": -69.17, "pressure_release": -54.22}[case]
    assert end_on == pytest.approx(expected, abs=0.01)


def test_weak_benchmark_is_dwba() -> None:
    """The weakly scattering benchmark columns equal the DWBA to the table rounding."""
    fk = FREQ["frequency_khz"]
    assert np.abs(_dwba(fk * 1e3, 90.0) - FREQ["weakly_scattering"]).max() <= 0.006
    dw = np.array([_dwba(38e3, t) for t in ANGLE["angle_deg"]])
    assert np.abs(dw - ANGLE["weakly_scattering"]).max() <= 0.006


def test_weak_angle_converged() -> None:
    """Our exact weakly scattering values at 38 kHz are converged where they differ most."""
    for theta in (0.0, 40.0, 54.0, 64.0, 74.0):
        conv = _ts(38e3, theta, "fluid")[0]
        more = _ts(38e3, theta, "fluid", extra_m=6, extra_n=16)[0]
        assert abs(conv - more) < 0.001, theta


@pytest.mark.xfail(
    strict=True,
    reason="benchmark weakly-scattering angle column is the DWBA approximation, not exact: "
    "the exact series differs by up to 0.45 dB on flanks (54 deg) and 3.7 dB in nulls",
)
def test_angle_38khz_weakly_scattering() -> None:
    ang, bench = ANGLE["angle_deg"], ANGLE["weakly_scattering"]
    sel = ang >= 40
    ours = np.array([_ts(38e3, t, "fluid")[0] for t in ang[sel]])
    tol = tolerance(ang[sel], bench[sel], 10.0)
    assert (np.abs(ours - bench[sel]) <= tol).all()


@pytest.mark.parametrize("theta", [40.0, 54.0, 74.0])
def test_weak_exact_tends_to_dwba_as_contrast_vanishes(theta: float) -> None:
    """The oblique-angle gap to the (DWBA) benchmark is the DWBA's own error, not ours.

    For g = h = 1 + eps the DWBA error is first order in eps (in dB), so the exact series
    must approach the DWBA linearly as eps -> 0; an error in our interior/exterior coupling
    would not vanish with the contrast.  Measured at 54 deg: 0.45, 0.11, 0.023 dB for
    eps = 0.002, 0.0005, 0.0001.
    """
    gaps = []
    for eps in (0.002, 0.0005, 0.0001):
        g = h = 1.0 + eps
        fbs, ok = backscatter_amplitude(
            np.array([38e3]),
            JECH["a"],
            JECH["b"],
            theta,
            JECH["rho_w"] * g,
            JECH["c_w"] * h,
            JECH["rho_w"],
            JECH["c_w"],
            "fluid",
        )
        assert ok.all()
        ex = 20 * np.log10(np.abs(fbs[0]))
        dw = _dwba_contrast(38e3, theta, g, h)
        gaps.append(abs(ex - dw))
    assert gaps[-1] < 0.07
    # ratio of gaps ~ ratio of contrasts (4x, then 5x): linear convergence
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.25)
    assert gaps[1] / gaps[2] == pytest.approx(5.0, rel=0.25)


def _dwba_contrast(freq_hz: float, theta: float, g: float, h: float) -> float:
    """DWBA TS of the Jech spheroid shape with density/sound-speed contrasts g, h."""
    k = 2 * np.pi * freq_hz / JECH["c_w"]
    t = np.radians(theta)
    big_k = 2 * k / h * np.sqrt((JECH["a"] * np.cos(t)) ** 2 + (JECH["b"] * np.sin(t)) ** 2)
    vol = 4 / 3 * np.pi * JECH["a"] * JECH["b"] ** 2
    f = k**2 / (4 * np.pi) * ((1 / (g * h * h) - 1) - (1 - 1 / g)) * vol
    f = f * 3 * spherical_jn(1, big_k) / big_k
    return float(20 * np.log10(np.abs(f)))
