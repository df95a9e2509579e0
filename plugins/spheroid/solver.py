"""Modal-series backscatter of a prolate spheroid: one azimuthal order at a time (numba).

For each m the scattered coefficients C_mn follow from (physics notes eq. 1.5, per parity
block of n - m), with unit-norm angle functions S, the overlap alpha_nl = sum_r v_r(c0) v_r(c1),
incident coefficients a_mn = 2 eps_m i^n S_mn(c0, cos theta), and

    k_w f_bs = -i sum_m sum_n i^n C_mn S_mn(c0, cos theta).

Columns are scaled by the exponent of R2_mn(c0) and rows by max(|R1_ml(c1)|, |R1'_ml(c1)|),
so the per-parity systems are O(1) whatever the range of the radial functions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .legendre import pbar_at_zero, pbar_column, sph_jn_scaled, sph_yn_scaled
from .spheroidal import (
    XI_START,
    angle_function,
    angular_coefficients,
    radial_eta0_z,
    radial_second_z,
)

BOUNDARY_FLUID = 0
BOUNDARY_RIGID = 1
BOUNDARY_PRESSURE_RELEASE = 2

LOSS_MAX = 8.0  # digits of cancellation tolerated in S(c, 0) (R1/R2 eta = 0 form)


@njit(cache=True)
def _ipow(n: int) -> complex:
    r = n % 4
    if r == 0:
        return 1.0 + 0.0j
    if r == 1:
        return 0.0 + 1.0j
    if r == 2:
        return -1.0 + 0.0j
    return 0.0 - 1.0j


@njit(cache=True)
def mode_contribution(
    m: int,
    c0: float,
    c1: float,
    xi0: float,
    g: float,
    eta_inc: float,
    nn: int,
    kk: int,
    boundary: int,
    guess0: np.ndarray,
    guess1: np.ndarray,
) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
    """Terms t_n = i^n C_mn S_mn(c0, eta_inc) for n = m..m+nn-1 (so k f_bs = -i sum t).

    Returns (terms (complex, nn), ok, lam(c0), lam(c1)).  ok is False when a spheroidal
    function could not be computed to the required accuracy (cancellation or
    non-converged integration).  guess0/guess1: predicted eigenvalues (NaN = none).
    Stand-alone form of ``_mode_terms`` (computes its own Bessel functions and Pbar(0)).
    """
    kk0, kk1 = _sizes(nn, kk, c0, c1)
    sq0 = math.sqrt(xi0 * xi0 - 1.0)
    xs = max(xi0, XI_START)
    j0m, j0p, j0e = sph_jn_scaled(c0 * sq0, m + 2 * kk0 + 1)
    j1m, j1p, j1e = sph_jn_scaled(c1 * sq0, m + 2 * kk1 + 1)
    y0m, y0p, y0e = sph_yn_scaled(c0 * math.sqrt(xs * xs - 1.0), m + 2 * kk0 + 1)
    p0, dp0 = pbar_at_zero(m, 2 * max(kk0, kk1) + 2)
    return _mode_terms(
        m, c0, c1, xi0, g, eta_inc, nn, kk0, kk1, boundary, guess0, guess1,
        j0m, j0p, j0e, j1m, j1p, j1e, y0m, y0p, y0e, p0, dp0,
    )  # fmt: skip


@njit(cache=True)
def _sizes(nn: int, kk: int, c0: float, c1: float) -> tuple[int, int]:
    """Legendre terms of the exterior (c0) and interior (c1) coefficient vectors."""
    # exterior coefficients need fewer Legendre terms when c0 << c1 (gas): zero-pad to kk
    # exterior: kk0 Legendre terms (the eta = 0 Neumann sum for R2 at xi = 2 needs them)
    kk0 = min(kk, (nn + 1) // 2 + int(c0) + 40)
    # interior coefficients: only the overlaps and R1 use them, which need the terms down
    # to ~1e-40 of the largest (reached by r ~ n - m + c1 + 50; checked: the neglected tail
    # is < 1e-48, lambda and R1 unchanged to 1e-11 for c1 <= 130)
    kk1 = min(kk, (nn + 1) // 2 + int(0.5 * c1) + 25)
    return kk0, kk1


@njit(cache=True)
def _mode_terms(
    m: int,
    c0: float,
    c1: float,
    xi0: float,
    g: float,
    eta_inc: float,
    nn: int,
    kk0: int,
    kk1: int,
    boundary: int,
    guess0: np.ndarray,
    guess1: np.ndarray,
    j0m: np.ndarray,
    j0p: np.ndarray,
    j0e: np.ndarray,
    j1m: np.ndarray,
    j1p: np.ndarray,
    j1e: np.ndarray,
    y0m: np.ndarray,
    y0p: np.ndarray,
    y0e: np.ndarray,
    p0: np.ndarray,
    dp0: np.ndarray,
) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
    """``mode_contribution`` with the per-frequency ingredients precomputed: spherical
    Bessel j_l(c0 sqrt(xi0^2-1)), j_l(c1 sqrt(xi0^2-1)) and y_l(c0 sqrt(max(xi0, 2)^2-1))
    (mantissa, derivative mantissa, exponent) up to at least l = m + 2 kk + 1, and
    Pbar_{m+k}^m(0), its derivative, for k < 2 max(kk0, kk1) + 2 at least."""
    ok = True
    terms = np.zeros(nn, dtype=np.complex128)
    lam0, v0 = angular_coefficients(m, c0, nn, kk0, guess0)
    lam1 = lam0
    pcol = pbar_column(m, 2 * kk0 + 2, eta_inc)
    s_inc = angle_function(m, v0, pcol)
    smax = 0.0
    for j in range(nn):
        smax = max(smax, abs(s_inc[j]))
    if smax == 0.0:
        return terms, ok, lam0, lam1
    eps = 1.0 if m == 0 else 2.0
    a = np.empty(nn, dtype=np.complex128)
    for j in range(nn):
        a[j] = 2.0 * eps * _ipow(m + j) * s_inc[j]
    r1m, r1pm, r1e, loss1 = radial_eta0_z(m, c0, xi0, v0, j0m, j0p, j0e, p0, dp0)
    r2m, r2pm, r2e, ok2 = radial_second_z(m, c0, xi0, lam0, v0, y0m, y0p, y0e, p0, dp0)
    for j in range(nn):
        if loss1[j] > LOSS_MAX or not ok2[j]:
            ok = False
    # R1(c0) as plain doubles (may underflow harmlessly), R3 scaled by 10**-r2e
    R1 = np.empty(nn)
    R1p = np.empty(nn)
    R3s = np.empty(nn, dtype=np.complex128)
    R3ps = np.empty(nn, dtype=np.complex128)
    for j in range(nn):
        f1 = 10.0 ** r1e[j] if r1e[j] > -330.0 else 0.0
        R1[j] = r1m[j] * f1
        R1p[j] = r1pm[j] * f1
        d = r1e[j] - r2e[j]
        f13 = 10.0**d if d > -330.0 else 0.0
        R3s[j] = r1m[j] * f13 + 1j * r2m[j]
        R3ps[j] = r1pm[j] * f13 + 1j * r2pm[j]
    if boundary != BOUNDARY_FLUID:
        for j in range(nn):
            d = r1e[j] - r2e[j]
            f13 = 10.0**d if d > -330.0 else 0.0
            if boundary == BOUNDARY_RIGID:
                amn = -(r1pm[j] * f13) / R3ps[j]
            else:
                amn = -(r1m[j] * f13) / R3s[j]
            terms[j] = _ipow(m + j) * a[j] * amn * s_inc[j]
        return terms, ok, lam0, lam1
    # fluid: interior functions at c1
    lam1, v1 = angular_coefficients(m, c1, nn, kk1, guess1)
    kko = min(kk0, kk1)
    q1m, q1pm, q1e, loss1i = radial_eta0_z(m, c1, xi0, v1, j1m, j1p, j1e, p0, dp0)
    for j in range(nn):
        if loss1i[j] > LOSS_MAX:
            ok = False
    for p in range(2):
        idx = np.arange(p, nn, 2)
        nb = idx.shape[0]
        if nb == 0:
            continue
        # overlaps alpha[inn, il] = sum_k v0[n, k] v1[l, k]  (one BLAS matrix product over
        # the terms both expansions carry; beyond, one of the factors is < 1e-40)
        b0 = np.ascontiguousarray(v0[p::2, :kko])
        b1 = np.ascontiguousarray(v1[p::2, :kko])
        alpha = np.dot(b0, b1.T)
        mat = np.zeros((nb, nb), dtype=np.complex128)
        rhs = np.zeros(nb, dtype=np.complex128)
        for il in range(nb):
            l = idx[il]
            dl = max(abs(q1m[l]), abs(q1pm[l]))
            gh = g * q1m[l] / dl
            hh = q1pm[l] / dl
            acc = 0.0 + 0.0j
            for inn in range(nb):
                n = idx[inn]
                al = alpha[inn, il]
                mat[il, inn] = al * (gh * R3ps[n] - hh * R3s[n])
                acc += al * a[n] * (gh * R1p[n] - hh * R1[n])
            rhs[il] = -acc
        finite = True
        for il in range(nb):
            if not (np.isfinite(rhs[il].real) and np.isfinite(rhs[il].imag)):
                finite = False
            for inn in range(nb):
                if not (np.isfinite(mat[il, inn].real) and np.isfinite(mat[il, inn].imag)):
                    finite = False
        if not finite:
            # a radial function out of range: report failure (NaN + warning upstream)
            return terms, False, lam0, lam1
        if nb <= SMALL_SOLVE:
            sol = _solve_small(mat, rhs)
        else:
            sol = np.linalg.solve(mat, rhs)
        for inn in range(nb):
            n = idx[inn]
            e = -r2e[n]
            fac = 10.0**e if e > -330.0 else 0.0
            terms[n] = _ipow(m + n) * sol[inn] * fac * s_inc[n]
    return terms, ok, lam0, lam1


SMALL_SOLVE = 20  # systems up to this size: _solve_small (faster than LAPACK there)


@njit(cache=True)
def _solve_small(mat: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """mat x = rhs by LU with partial pivoting (as LAPACK zgesv: pivot on |re| + |im|), in
    split real/imaginary arrays; for the small systems (n <= SMALL_SOLVE) it avoids the
    LAPACK call overhead.  An exactly singular matrix gives NaN (never-silent upstream)."""
    n = mat.shape[0]
    ar = np.empty((n, n))
    ai = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ar[i, j] = mat[i, j].real
            ai[i, j] = mat[i, j].imag
    br = np.empty(n)
    bi = np.empty(n)
    for i in range(n):
        br[i] = rhs[i].real
        bi[i] = rhs[i].imag
    x = np.empty(n, dtype=np.complex128)
    dr = np.empty(n)
    ur = np.empty(n)
    ui = np.empty(n)
    di = np.empty(n)
    for k in range(n):
        p = k
        best = abs(ar[k, k]) + abs(ai[k, k])
        for i in range(k + 1, n):
            v = abs(ar[i, k]) + abs(ai[i, k])
            if v > best:
                best = v
                p = i
        if not best > 0.0:
            x[:] = complex(np.nan, np.nan)
            return x
        if p != k:
            for j in range(n):
                t = ar[k, j]
                ar[k, j] = ar[p, j]
                ar[p, j] = t
                t = ai[k, j]
                ai[k, j] = ai[p, j]
                ai[p, j] = t
            t = br[k]
            br[k] = br[p]
            br[p] = t
            t = bi[k]
            bi[k] = bi[p]
            bi[p] = t
        inv = 1.0 / complex(ar[k, k], ai[k, k])
        dr[k] = inv.real
        di[k] = inv.imag
        ir = inv.real
        ii = inv.imag
        for j in range(k + 1, n):
            ur[j] = ar[k, j]
            ui[j] = ai[k, j]
        for i in range(k + 1, n):
            lr = ar[i, k] * ir - ai[i, k] * ii
            li = ar[i, k] * ii + ai[i, k] * ir
            rr = ar[i]
            ri = ai[i]
            for j in range(k + 1, n):
                rr[j] -= lr * ur[j] - li * ui[j]
                ri[j] -= lr * ui[j] + li * ur[j]
            br[i] -= lr * br[k] - li * bi[k]
            bi[i] -= lr * bi[k] + li * br[k]
    for k in range(n - 1, -1, -1):
        sr = br[k]
        si = bi[k]
        for j in range(k + 1, n):
            sr -= ar[k, j] * br[j] - ai[k, j] * bi[j]
            si -= ar[k, j] * bi[j] + ai[k, j] * br[j]
        br[k] = sr * dr[k] - si * di[k]
        bi[k] = sr * di[k] + si * dr[k]
    for k in range(n):
        x[k] = complex(br[k], bi[k])
    return x


@njit(cache=True)
def _extrapolate(
    hist_c: np.ndarray,
    hist_lam: np.ndarray,
    hist_n: np.ndarray,
    slots: np.ndarray,
    nh: int,
    m: int,
    c: float,
    nn: int,
) -> np.ndarray:
    """Predicted eigenvalues lambda_{m, m+j}(c), j < nn, from up to two earlier c values.

    History slots: slots[0] = previous frequency (c = hist_c[0]), slots[1] = the one before
    (hist_c[1]); hist_n[slot, m] = number of degrees stored for order m there.
    """
    out = np.full(nn, np.nan)
    if nh == 0 or m >= hist_lam.shape[1]:
        return out
    sa = slots[0]
    sb = slots[1]
    ca = hist_c[0]
    na = hist_n[sa, m]
    nb = hist_n[sb, m] if nh >= 2 else 0
    for j in range(min(nn, na)):
        la = hist_lam[sa, m, j]
        if not math.isfinite(la):
            continue
        if j < nb and math.isfinite(hist_lam[sb, m, j]) and hist_c[1] != ca:
            lb = hist_lam[sb, m, j]
            out[j] = la + (la - lb) * (c - ca) / (ca - hist_c[1])
        else:
            out[j] = la
    return out


@njit(cache=True)
def _store(
    hist_lam: np.ndarray, hist_n: np.ndarray, slots: np.ndarray, m: int, lam: np.ndarray
) -> None:
    """Record this frequency's eigenvalues of order m in the current slot (slots[2])."""
    if m >= hist_lam.shape[1]:
        return
    sc = slots[2]
    n = min(lam.shape[0], hist_lam.shape[2])
    for j in range(n):
        hist_lam[sc, m, j] = lam[j]
    hist_n[sc, m] = n


@njit(cache=True)
def _rotate(hist_n: np.ndarray, slots: np.ndarray, hist_c: np.ndarray, c: float) -> None:
    """End of a frequency: the current slot becomes 'previous', the oldest is reused (no
    copies; the reused slot is emptied by zeroing its counts).

    When ``c`` equals the previous c (repeated evaluations at one frequency in a fit, where
    only theta or the density contrast moved), the current slot replaces the previous one
    and the one before is kept: two distinct c values stay in the history, so the next
    prediction can extrapolate (two equal ones would give a constant prediction)."""
    if c == hist_c[0]:
        last = slots[0]
        slots[0] = slots[2]
        slots[2] = last
        hist_n[last, :] = 0
        return
    oldest = slots[1]
    slots[1] = slots[0]
    slots[0] = slots[2]
    slots[2] = oldest
    hist_n[oldest, :] = 0
    hist_c[1] = hist_c[0]
    hist_c[0] = c


@njit(cache=True)
def _bessel_cached(
    regular: bool, x: float, need: int, lcur: int, zm: np.ndarray, zp: np.ndarray, ze: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """j_l(x) (``regular``) or y_l(x) up to l >= need, reusing the arrays (same x) when they
    already reach it, else recomputed to ``need + BESSEL_SLACK``."""
    if need <= lcur:
        return zm, zp, ze, lcur
    lmax = need + BESSEL_SLACK
    if regular:
        zm, zp, ze = sph_jn_scaled(x, lmax)
    else:
        zm, zp, ze = sph_yn_scaled(x, lmax)
    return zm, zp, ze, lmax


@njit(cache=True)
def _p_cached(
    pc: np.ndarray, dpc: np.ndarray, plen: np.ndarray, m: int, nl: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pbar_{m+k}^m(0) and its derivative for k < nl (at least), kept per order m for the
    whole spectrum (the recurrence in the degree gives identical leading entries for any
    length).  Returns (pc, dpc, plen) (reallocated when too narrow) and the two rows."""
    if nl > pc.shape[1]:
        pc = np.zeros((pc.shape[0], nl + 64))
        dpc = np.zeros((pc.shape[0], nl + 64))
        plen[:] = 0
    if m >= pc.shape[0]:
        p, dp = pbar_at_zero(m, nl)
        return pc, dpc, plen, p, dp
    if plen[m] < nl:
        p, dp = pbar_at_zero(m, pc.shape[1])
        pc[m, :] = p
        dpc[m, :] = dp
        plen[m] = pc.shape[1]
    return pc, dpc, plen, pc[m], dpc[m]


BESSEL_SLACK = 24  # extra orders computed, so the next azimuthal orders reuse the table
TOL_M = 1e-5  # relative size of |f_m| counted as negligible (two in a row)
TOL_N = 1e-6  # relative size of the last four degree terms of an order counted negligible
MHIST = 64
NHIST = 256


@njit(cache=True)
def spectrum(
    freqs: np.ndarray,
    a: float,
    b: float,
    theta_deg: float,
    g: float,
    h: float,
    c_w: float,
    boundary: int,
    extra_m: int,
    extra_n: int,
    m_fix: int,
    n_fix: int,
) -> tuple[np.ndarray, np.ndarray]:
    """k-independent driver: complex f_bs (m) and an ok flag per frequency (Hz).

    Truncation: orders m = 0.. until m >= M_min - 1 = ceil(k_w b sin theta) + 1 (+extra_m)
    and two successive |f_m| < TOL_M |f|; degrees per order start at
    N = 0.8 max(c0, c1) xi0 + 10 (for xi0 >= 2, i.e. a/b < 1.155, at least
    k_w a + 4 (k_w a)^(1/3) + 10) (+extra_n) and grow by 8
    until the last four terms are < TOL_N of |f| (physics notes sec. 3).
    m_fix >= 0 sums exactly m <= m_fix, n <= n_fix instead (reproduces published,
    under-truncated values).  Eigenvalues are warm-started from the previous frequencies.
    All frequencies in one call: see :func:`new_state` and :func:`spectrum_block` for the
    same in blocks (between which the caller can stop).
    """
    nf = freqs.shape[0]
    out = np.empty(nf, dtype=np.complex128)
    okv = np.ones(nf, dtype=np.bool_)
    h0c, h1c, h0, h1, h0n, h1n, h0s, h1s, nh, pc, dpc, plen = new_state()
    spectrum_block(
        freqs, 0, nf, out, okv, a, b, theta_deg, g, h, c_w, boundary, extra_m, extra_n,
        m_fix, n_fix, h0c, h1c, h0, h1, h0n, h1n, h0s, h1s, nh, pc, dpc, plen,
    )  # fmt: skip
    return out, okv


@njit(cache=True)
def new_state() -> tuple:
    """The warm-start state carried from one frequency to the next (eigenvalue history
    and the cached angle-function tables), for the first frequency of a spectrum."""
    h0c = np.zeros(2)
    h1c = np.zeros(2)
    h0 = np.full((3, MHIST, NHIST), np.nan)
    h1 = np.full((3, MHIST, NHIST), np.nan)
    h0n = np.zeros((3, MHIST), dtype=np.int64)
    h1n = np.zeros((3, MHIST), dtype=np.int64)
    h0s = np.array([0, 1, 2])
    h1s = np.array([0, 1, 2])
    nh = np.zeros(1, dtype=np.int64)
    pc = np.zeros((MHIST, 1))
    dpc = np.zeros((MHIST, 1))
    plen = np.zeros(MHIST, dtype=np.int64)
    return h0c, h1c, h0, h1, h0n, h1n, h0s, h1s, nh, pc, dpc, plen


@njit(cache=True)
def spectrum_block(
    freqs: np.ndarray,
    i0: int,
    i1: int,
    out: np.ndarray,
    okv: np.ndarray,
    a: float,
    b: float,
    theta_deg: float,
    g: float,
    h: float,
    c_w: float,
    boundary: int,
    extra_m: int,
    extra_n: int,
    m_fix: int,
    n_fix: int,
    h0c: np.ndarray,
    h1c: np.ndarray,
    h0: np.ndarray,
    h1: np.ndarray,
    h0n: np.ndarray,
    h1n: np.ndarray,
    h0s: np.ndarray,
    h1s: np.ndarray,
    nh_state: np.ndarray,
    pc_state: np.ndarray,
    dpc_state: np.ndarray,
    plen_state: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies ``freqs[i0:i1]`` of :func:`spectrum`, written to ``out``/``okv`` in place,
    continuing from the state (:func:`new_state`) left by the frequencies before ``i0``.

    The state arrays are updated in place, except the angle-function tables, which may
    grow: the new ``(pc, dpc, plen)`` are returned for the next block. Calling it on
    consecutive blocks gives exactly (bit for bit) the values of one call on all of them.
    """
    q = math.sqrt(a * a - b * b)
    xi0 = a / q
    th = theta_deg * math.pi / 180.0
    eta_inc = math.cos(th)
    sin_t = math.sin(th)
    nh = nh_state[0]
    sq0 = math.sqrt(xi0 * xi0 - 1.0)
    xs = max(xi0, XI_START)
    sqs = math.sqrt(xs * xs - 1.0)
    pc = pc_state
    dpc = dpc_state
    plen = plen_state
    for i in range(i0, i1):
        kw = 2.0 * math.pi * freqs[i] / c_w
        c0 = kw * q
        c1 = c0 / h if boundary == 0 else c0
        cmax = max(c0, c1)
        ka = kw * a
        m_min = int(math.ceil(kw * b * sin_t)) + 2 + extra_m
        nrule = 0.8 * cmax * xi0
        if xi0 >= 2.0:  # near-spherical (a/b < 1.155): sphere-like degree count
            nrule = max(nrule, ka + 4.0 * ka ** (1.0 / 3.0))
        n0 = max(int(math.ceil(nrule)) + 10 + extra_n, 2)
        total = 0.0 + 0.0j
        ok = True
        # Bessel tables of this frequency, shared by all orders (extended on demand)
        j0m = np.zeros(1)
        j0p = np.zeros(1)
        j0e = np.zeros(1, dtype=np.int64)
        j1m = j0m
        j1p = j0p
        j1e = j0e
        y0m = j0m
        y0p = j0p
        y0e = j0e
        lj0 = -1
        lj1 = -1
        ly0 = -1
        if m_fix >= 0:
            for m in range(m_fix + 1):
                nn = max(n_fix - m + 1, 1)
                kk = (nn + 1) // 2 + int(cmax) + 40
                g0 = _extrapolate(h0c, h0, h0n, h0s, nh, m, c0, nn)
                g1 = _extrapolate(h1c, h1, h1n, h1s, nh, m, c1, nn)
                kk0, kk1 = _sizes(nn, kk, c0, c1)
                j0m, j0p, j0e, lj0 = _bessel_cached(
                    True, c0 * sq0, m + 2 * kk0 + 1, lj0, j0m, j0p, j0e
                )
                if boundary == BOUNDARY_FLUID:
                    j1m, j1p, j1e, lj1 = _bessel_cached(
                        True, c1 * sq0, m + 2 * kk1 + 1, lj1, j1m, j1p, j1e
                    )
                y0m, y0p, y0e, ly0 = _bessel_cached(
                    False, c0 * sqs, m + 2 * kk0 + 1, ly0, y0m, y0p, y0e
                )
                pc, dpc, plen, p0, dp0 = _p_cached(pc, dpc, plen, m, 2 * max(kk0, kk1) + 2)
                terms, good, l0, l1 = _mode_terms(
                    m, c0, c1, xi0, g, eta_inc, nn, kk0, kk1, boundary, g0, g1,
                    j0m, j0p, j0e, j1m, j1p, j1e, y0m, y0p, y0e, p0, dp0,
                )  # fmt: skip
                _store(h0, h0n, h0s, m, l0)
                _store(h1, h1n, h1s, m, l1)
                total += terms.sum()
                ok = ok and good
        else:
            m_cap = m_min + 40
            small = 0
            m = 0
            while True:
                nn = n0
                while True:
                    kk = (nn + 1) // 2 + int(cmax) + 40
                    g0 = _extrapolate(h0c, h0, h0n, h0s, nh, m, c0, nn)
                    g1 = _extrapolate(h1c, h1, h1n, h1s, nh, m, c1, nn)
                    kk0, kk1 = _sizes(nn, kk, c0, c1)
                    j0m, j0p, j0e, lj0 = _bessel_cached(
                        True, c0 * sq0, m + 2 * kk0 + 1, lj0, j0m, j0p, j0e
                    )
                    if boundary == BOUNDARY_FLUID:
                        j1m, j1p, j1e, lj1 = _bessel_cached(
                            True, c1 * sq0, m + 2 * kk1 + 1, lj1, j1m, j1p, j1e
                        )
                    y0m, y0p, y0e, ly0 = _bessel_cached(
                        False, c0 * sqs, m + 2 * kk0 + 1, ly0, y0m, y0p, y0e
                    )
                    pc, dpc, plen, p0, dp0 = _p_cached(pc, dpc, plen, m, 2 * max(kk0, kk1) + 2)
                    terms, good, l0, l1 = _mode_terms(
                        m, c0, c1, xi0, g, eta_inc, nn, kk0, kk1, boundary, g0, g1,
                        j0m, j0p, j0e, j1m, j1p, j1e, y0m, y0p, y0e, p0, dp0,
                    )  # fmt: skip
                    fm = terms.sum()
                    tail = 0.0
                    for j in range(max(0, nn - 4), nn):
                        tail = max(tail, abs(terms[j]))
                    ref = max(abs(total + fm), abs(fm), 1e-300)
                    if tail <= TOL_N * ref:
                        break
                    if nn > n0 + 60:
                        ok = False
                        break
                    nn += 8
                _store(h0, h0n, h0s, m, l0)
                _store(h1, h1n, h1s, m, l1)
                ok = ok and good
                total += fm
                if eta_inc == 1.0:  # exactly end-on: only m = 0 contributes
                    break
                if m >= m_min - 1:
                    if abs(fm) <= TOL_M * max(abs(total), 1e-300):
                        small += 1
                    else:
                        small = 0
                    if small >= 2:
                        break
                if m >= m_cap:
                    ok = False
                    break
                m += 1
        _rotate(h0n, h0s, h0c, c0)
        _rotate(h1n, h1s, h1c, c1)
        nh = min(nh + 1, 2)
        fbs = -1j * total / kw
        if ok and math.isfinite(fbs.real) and math.isfinite(fbs.imag):
            out[i] = fbs
        else:
            out[i] = complex(np.nan, np.nan)
            okv[i] = False
    nh_state[0] = nh
    return pc, dpc, plen
