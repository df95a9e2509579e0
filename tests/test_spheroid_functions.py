"""Spheroidal and spherical special functions: Wronskian, Legendre, Bessel, eigenvalues."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import lpmv, spherical_jn, spherical_yn

from ts_toolkit_plugins.spheroid.legendre import (
    pbar_at_zero,
    pbar_column,
    sph_jn_scaled,
    sph_yn_scaled,
)
from ts_toolkit_plugins.spheroid.spheroidal import (
    angular_coefficients,
    radial_eta0,
    radial_second,
)


def _functions(m: int, c: float, xi: float, nn: int):
    kk = (nn + 1) // 2 + int(c) + 40
    lam, v = angular_coefficients(m, c, nn, kk, np.full(nn, np.nan))
    r1, r1p, e1, loss = radial_eta0(m, c, xi, v, False)
    r2, r2p, e2, ok = radial_second(m, c, xi, lam, v)
    return lam, v, r1, r1p, e1, loss, r2, r2p, e2, ok


@pytest.mark.parametrize("xi", [1.0079, 1.02, 1.054, 1.3, 1.9, 2.0, 3.28])
@pytest.mark.parametrize("c", [0.5, 5.0, 20.0, 60.0, 130.0])
def test_wronskian(xi: float, c: float) -> None:
    """R1 R2' - R1' R2 = 1/(c (xi^2-1)) for m = 0..30 and every degree of the rule + 10."""
    worst = 0.0
    for m in (0, 1, 5, 15, 30):
        nn = int(0.8 * c * xi) + 20
        _, _, r1, r1p, e1, loss, r2, r2p, e2, ok = _functions(m, c, xi, nn)
        assert ok.all(), (m, c, xi)
        assert loss.max() < 8.0
        w = (r1 * r2p - r1p * r2) * 10.0 ** (e1 + e2) * c * (xi * xi - 1.0)
        err = np.abs(w - 1.0)
        # the degrees the solver needs (rule N = 0.8 c xi + 10) to 1e-8 (worst seen 3.5e-9,
        # m = 30, c = 130, xi = 2, n - m = 217; typically < 1e-11)
        core = err[: int(0.8 * c * xi) + 10]
        assert core.max() < 1e-8, (m, c, xi, core.max(), int(core.argmax()))
        worst = max(worst, float(err.max()))
    # all computed degrees (10 beyond the rule) to 1e-6
    assert worst < 1e-6


def test_eigenvalues_small_c_and_orthonormal_coefficients() -> None:
    """lambda_mn -> n(n+1) as c -> 0; coefficient vectors have unit norm."""
    for m in (0, 2, 7):
        lam, v = angular_coefficients(m, 1e-4, 12, 40, np.full(12, np.nan))
        n = m + np.arange(12)
        np.testing.assert_allclose(lam, n * (n + 1), rtol=0, atol=1e-6)
        np.testing.assert_allclose((v * v).sum(axis=1), 1.0, atol=1e-14)


def test_eigenvalue_known_value() -> None:
    """lambda_00(c=1) = 0.319000... (A&S Table 21.1, prolate: 0.31900006)."""
    lam, _ = angular_coefficients(0, 1.0, 2, 40, np.full(2, np.nan))
    assert lam[0] == pytest.approx(0.319000055, abs=2e-8)


def test_warm_start_matches_bisection() -> None:
    """Eigenvalues from a (perturbed) guess equal those from bisection."""
    c, nn, kk = 47.3, 60, 130
    lam, v = angular_coefficients(4, c, nn, kk, np.full(nn, np.nan))
    lam2, v2 = angular_coefficients(4, c, nn, kk, lam * (1 + 3e-5))
    np.testing.assert_allclose(lam2, lam, rtol=1e-13)
    np.testing.assert_allclose(np.abs(v2), np.abs(v), atol=1e-12)


def test_legendre_orthonormal_against_scipy() -> None:
    for m in (0, 3, 11):
        for eta in (-0.8, 0.0, 0.37, 0.999):
            p = pbar_column(m, 15, eta)
            ll = np.arange(m, m + 15)
            lg = [math.lgamma(x - m + 1) - math.lgamma(x + m + 1) for x in ll]
            norm = np.sqrt((2 * ll + 1) / 2 * np.exp(lg))
            ref = (-1.0) ** m * lpmv(m, ll, eta) * norm
            np.testing.assert_allclose(p, ref, rtol=1e-11, atol=1e-14)
    p0, dp0 = pbar_at_zero(2, 10)
    h = 1e-6
    fd = (pbar_column(2, 10, h) - pbar_column(2, 10, -h)) / (2 * h)
    np.testing.assert_allclose(dp0, fd, atol=1e-8)


@pytest.mark.parametrize("x", [1e-3, 0.5, 3.0, 20.0, 150.0])
def test_spherical_bessel_scaled(x: float) -> None:
    ll = np.arange(61)
    jm, jpm, je = sph_jn_scaled(x, 60)
    ym, ypm, ye = sph_yn_scaled(x, 60)
    j, y = spherical_jn(ll, x), spherical_yn(ll, x)
    ok = np.isfinite(y) & (np.abs(j) > 1e-290)
    np.testing.assert_allclose((jm * 10.0**je)[ok], j[ok], rtol=1e-12)
    np.testing.assert_allclose((ym * 10.0**ye)[ok], y[ok], rtol=1e-12)
    np.testing.assert_allclose((jpm * 10.0**je)[ok], spherical_jn(ll, x, True)[ok], rtol=1e-11)
    np.testing.assert_allclose((ypm * 10.0**ye)[ok], spherical_yn(ll, x, True)[ok], rtol=1e-12)


@pytest.mark.parametrize("c", [0.01, 3.0, 22.0, 86.0, 130.0])
def test_block_eigensolver_matches_scalar_bisection(c: float) -> None:
    """The vectorised block path (Newton on all eigenvalues at once, truncated Sturm counts,
    ratio vectors for all) equals scalar bisection + refinement + ratio vector, also when the
    predictions are partly missing or poor (per-eigenvalue fallback)."""
    from ts_toolkit_plugins.spheroid import spheroidal as sp

    for m in (0, 3, 20):
        nn = int(0.8 * c * 1.01) + 20
        kk = (nn + 1) // 2 + int(c) + 40
        lam, v = angular_coefficients(m, c, nn, kk, np.full(nn, np.nan))
        for p in range(2):
            diag, off = sp._recurrence_block(m, c, p, kk)
            nev = (nn - p + 1) // 2
            ev = sp._eigs_lowest(diag, off, nev)
            ev = np.array([sp._refine_lambda(diag, off, e, i) for i, e in enumerate(ev)])
            vr = np.array([sp._ratio_vector(diag, off, e, i) for i, e in enumerate(ev)])
            np.testing.assert_allclose(lam[p::2], ev, rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(v[p::2], vr, rtol=0, atol=1e-12)
        rng = np.random.default_rng(1)
        for pert in (1e-5, 3e-3):
            guess = lam * (1 + pert * rng.standard_normal(nn))
            guess[nn // 2 :] = np.nan  # degrees new at this frequency
            guess[3] = lam[5]  # a prediction that converges to the wrong index
            lam2, v2 = angular_coefficients(m, c, nn, kk, guess)
            np.testing.assert_allclose(lam2, lam, rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(np.abs(v2), np.abs(v), rtol=0, atol=1e-12)


def test_truncated_sturm_counts_equal_full_counts() -> None:
    from ts_toolkit_plugins.spheroid import spheroidal as sp

    rng = np.random.default_rng(2)
    for m, c, kk in ((0, 5.0, 60), (4, 60.0, 140), (25, 120.0, 200)):
        for p in range(2):
            diag, off = sp._recurrence_block(m, c, p, kk)
            off2 = off[: kk - 1] ** 2
            dsuf = np.minimum.accumulate(diag[::-1])[::-1].copy()
            esuf = np.maximum.accumulate(np.abs(off)[::-1])[::-1].copy()
            xs = rng.uniform(diag[0] - 2 * c * c, diag[kk // 2], 200)
            got = sp._sturm_counts(diag, off2, xs, dsuf, esuf)
            ref = [sp._sturm_count(diag, off2, x) for x in xs]
            np.testing.assert_array_equal(got, ref)


def test_small_complex_solver_matches_lapack() -> None:
    from ts_toolkit_plugins.spheroid.solver import SMALL_SOLVE, _solve_small

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, SMALL_SOLVE):
        a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
        a[0, 0] = 0.0  # forces a row exchange
        b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        if n == 1:
            a[0, 0] = 2.0 - 1.0j
        x = _solve_small(a, b)
        np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-12, atol=1e-12)
    # exactly singular: NaN (reported as a failure upstream), no exception
    assert np.all(np.isnan(_solve_small(np.zeros((3, 3), complex), np.ones(3, complex))))


def test_mode_contribution_matches_shared_tables() -> None:
    """The driver's shared Bessel / Pbar(0) tables (longer than needed) give the same terms
    as the stand-alone mode_contribution that computes its own."""
    from ts_toolkit_plugins.spheroid import solver

    fbs, ok = solver.spectrum(
        np.array([120e3]), 0.02, 0.005, 60.0, 1.04, 1.03, 1500.0, 0, 0, 0, 3, 30
    )
    kw = 2 * math.pi * 120e3 / 1500.0
    q = math.sqrt(0.02**2 - 0.005**2)
    c0 = kw * q
    total = 0.0j
    for m in range(4):
        nn = 31 - m
        kk = (nn + 1) // 2 + int(c0) + 40
        guess = np.full(nn, np.nan)
        terms, good, _, _ = solver.mode_contribution(
            m, c0, c0 / 1.03, 0.02 / q, 1.04, math.cos(math.radians(60.0)), nn, kk, 0,
            guess, guess,
        )  # fmt: skip
        assert good
        total += terms.sum()
    assert ok[0]
    np.testing.assert_allclose(fbs[0], -1j * total / kw, rtol=1e-9)
