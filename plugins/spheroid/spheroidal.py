"""Prolate spheroidal wave functions (numba kernels).

Everything here is for one azimuthal order ``m`` and one size parameter ``c``; all degrees
``n = m .. m+nn-1`` come out of one call.

* Eigenvalues lambda_mn: real symmetric tridiagonal form of the Legendre-coefficient
  recurrence (orthonormal-Legendre basis), one block per parity of n - m (Flammer 1957
  eq. 3.1.4; A&S 21.7.3).  Predicted values (previous frequencies, or extrapolation along the
  block) are refined by Newton iteration on the continued fraction for all eigenvalues of a
  block at once and each is accepted only if Sturm counts confirm its index; Sturm-sequence
  bisection finds the lowest ones of a new order and any that fail the check.
* Coefficients v_r (orthonormal-Legendre expansion of the unit-norm angle function): ratio
  method (backward and forward continued fractions from the dominant index), not the raw
  eigenvectors, so tiny coefficients are relatively accurate.
* Angle function S(c, eta) = sum_r v_r Pbar_{m+r}^m(eta): unit L2 norm on [-1, 1].
* Radial functions of the first and second kind from the product expansion evaluated at
  eta = 0 (Van Buren & Boisvert 2002 idea):
  R S(c,0) = sum_r i^(r+m-n) v_r Pbar_{m+r}^m(0) z_{m+r}(c sqrt(xi^2-1)) (n-m even), and the
  eta-derivative of it for n-m odd, with z = j (R1, any xi > 1) or z = y (R2; the spherical
  expansion converges only for xi^2 + eta^2 - 1 > 1, i.e. xi > sqrt(2) at eta = 0).
* R2 for xi < XI_START: the radial ODE ((xi^2-1) R')' = (lambda - c^2 xi^2 + m^2/(xi^2-1)) R
  is integrated *inwards* from XI_START with a high-order Taylor-series method (the
  coefficients are polynomials in xi, so the Taylor coefficients follow from a short
  recurrence).  R2 is the dominant solution towards the singular point xi = 1, so inward
  integration is stable.

Values that span a huge range are returned as mantissa * 10**exponent.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .legendre import floor_log10, pbar_at_zero, pow10, sph_jn_scaled, sph_yn_scaled

XI_START = 2.0  # eta = 0 Neumann expansion used at and above this xi


@njit(cache=True)
def _recurrence_block(m: int, c: float, p: int, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal and off-diagonal of the symmetric tridiagonal matrix for parity p.

    Index k corresponds to r = p + 2k.  Diagonal beta_r, off-diagonal sqrt(alpha_r gamma_{r+2}).
    """
    c2 = c * c
    diag = np.empty(kk)
    off = np.empty(kk)
    for k in range(kk):
        r = p + 2 * k
        mr = m + r
        diag[k] = mr * (mr + 1.0) + (2.0 * mr * (mr + 1.0) - 2.0 * m * m - 1.0) * c2 / (
            (2.0 * mr - 1.0) * (2.0 * mr + 3.0)
        )
        alpha = (
            (2.0 * m + r + 2.0) * (2.0 * m + r + 1.0) * c2 / ((2.0 * mr + 3.0) * (2.0 * mr + 5.0))
        )
        r2 = r + 2.0
        gamma = r2 * (r2 - 1.0) * c2 / ((2.0 * m + 2.0 * r2 - 3.0) * (2.0 * m + 2.0 * r2 - 1.0))
        off[k] = math.sqrt(alpha * gamma)
    return diag, off


@njit(cache=True)
def _sturm_count(diag: np.ndarray, off2: np.ndarray, x: float) -> int:
    """Number of eigenvalues of the symmetric tridiagonal matrix smaller than x."""
    n = diag.shape[0]
    cnt = 0
    q = diag[0] - x
    if q < 0.0:
        cnt += 1
    for k in range(1, n):
        if q == 0.0:
            q = 1e-300
        q = diag[k] - x - off2[k - 1] / q
        if q < 0.0:
            cnt += 1
    return cnt


@njit(cache=True)
def _gershgorin_bounds(diag: np.ndarray, off: np.ndarray, n: int) -> tuple[float, float]:
    """Lower and upper bounds of every eigenvalue of the symmetric tridiagonal matrix with
    ``diag`` and off-diagonal ``off`` (its first ``n`` rows): Gershgorin discs."""
    lo = 1e300
    hi = -1e300
    for k in range(n):
        rad = 0.0
        if k > 0:
            rad += abs(off[k - 1])
        if k < n - 1:
            rad += abs(off[k])
        lo = min(lo, diag[k] - rad)
        hi = max(hi, diag[k] + rad)
    return lo, hi


@njit(cache=True)
def _eigs_lowest(diag: np.ndarray, off: np.ndarray, nev: int) -> np.ndarray:
    """The nev smallest eigenvalues (ascending) by bisection with Sturm counts."""
    n = diag.shape[0]
    off2 = off[: n - 1] ** 2
    lo, hi = _gershgorin_bounds(diag, off, n)
    out = np.empty(nev)
    a_prev = lo
    for i in range(nev):
        a = a_prev
        b = hi
        # eigenvalue i is the smallest x with count(x) > i; bisection on [a, b]
        for _ in range(200):
            mid = 0.5 * (a + b)
            if mid <= a or mid >= b:
                break
            if _sturm_count(diag, off2, mid) > i:
                b = mid
            else:
                a = mid
        out[i] = 0.5 * (a + b)
        a_prev = a
    return out


@njit(cache=True)
def _ratio_vector(diag: np.ndarray, off: np.ndarray, lam: float, kn: int) -> np.ndarray:
    """Eigenvector of the tridiagonal matrix for eigenvalue lam by the ratio method.

    v[kn] is the pivot; ratios above kn from a backward continued fraction, below kn from a
    forward one.  Returned with unit 2-norm and v[kn] > 0.
    """
    n = diag.shape[0]
    v = np.zeros(n)
    # upward ratios u_k = v_k / v_{k-1}, k = n-1 .. kn+1
    u = np.zeros(n + 1)
    u[n] = 0.0
    for k in range(n - 1, kn, -1):
        den = (diag[k] - lam) + (off[k] * u[k + 1] if k < n - 1 else 0.0)
        if den == 0.0:
            den = 1e-300
        u[k] = -off[k - 1] / den
    # downward ratios w_k = v_k / v_{k+1}, k = 0 .. kn-1
    w = np.zeros(max(kn, 1))
    for k in range(0, kn):
        den = (diag[k] - lam) + (off[k - 1] * w[k - 1] if k > 0 else 0.0)
        if den == 0.0:
            den = 1e-300
        w[k] = -off[k] / den
    v[kn] = 1.0
    for k in range(kn + 1, n):
        v[k] = v[k - 1] * u[k]
    for k in range(kn - 1, -1, -1):
        v[k] = v[k + 1] * w[k]
    s = 0.0
    for k in range(n):
        s += v[k] * v[k]
    s = math.sqrt(s)
    for k in range(n):
        v[k] /= s
    return v


@njit(cache=True)
def _refine_lambda(diag: np.ndarray, off: np.ndarray, lam: float, kn: int) -> float:
    """Newton refinement of lam on the continued-fraction function at row kn.

    The backward continued fraction starts 30 rows beyond the point where the recurrence
    becomes strongly evanescent (diag - lam > 4 off), not at the end of the block: the
    neglected tail then changes the result by far less than rounding.
    """
    n = diag.shape[0]
    ktop = n - 1
    for k in range(kn + 1, n):
        if diag[k] - lam > 4.0 * (off[k] + off[k - 1]):
            ktop = min(n - 1, k + 30)
            break

    def cf(x: float) -> tuple[float, float]:
        # f(x) = (diag[kn]-x) + off[kn]*u_{kn+1} + off[kn-1]*w_{kn-1} and df/dx
        up = 0.0
        dup = 0.0
        for k in range(ktop, kn, -1):
            den = diag[k] - x
            dden = -1.0
            if k < n - 1:
                den += off[k] * up
                dden += off[k] * dup
            if den == 0.0:
                den = 1e-300
            up = -off[k - 1] / den
            dup = off[k - 1] * dden / (den * den)
        wd = 0.0
        dwd = 0.0
        for k in range(0, kn):
            den = diag[k] - x
            dden = -1.0
            if k > 0:
                den += off[k - 1] * wd
                dden += off[k - 1] * dwd
            if den == 0.0:
                den = 1e-300
            wd = -off[k] / den
            dwd = off[k] * dden / (den * den)
        val = diag[kn] - x
        dval = -1.0
        if kn < n - 1:
            val += off[kn] * up
            dval += off[kn] * dup
        if kn > 0:
            val += off[kn - 1] * wd
            dval += off[kn - 1] * dwd
        return val, dval

    x = lam
    for _ in range(12):
        f, df = cf(x)
        if df == 0.0 or not math.isfinite(f) or not math.isfinite(df):
            break
        xn = x - f / df
        if not (abs(xn - lam) < 1e-2 * max(1.0, abs(lam))):
            break
        done = abs(xn - x) <= 4e-16 * max(1.0, abs(xn))
        x = xn
        if done:
            break
    if abs(x - lam) < 1e-2 * max(1.0, abs(lam)) and math.isfinite(x):
        return x
    return lam


@njit(cache=True)
def _sturm_counts(
    diag: np.ndarray, off2: np.ndarray, xs: np.ndarray, dsuf: np.ndarray, esuf: np.ndarray
) -> np.ndarray:
    """Numbers of eigenvalues smaller than each xs[p] (Sturm counts, vectorised over p).

    The LDL^T pivots q_k are run for all points together.  Rows beyond k* are skipped
    when they provably add no negative pivot: with E = max off-diagonal from k* - 1 on,
    diag_j - x >= 2E for all j >= k* (``dsuf`` = suffix minimum of diag) and q_{k*-1} >= E
    imply q_j >= E > 0 for all j >= k* (q_j = diag_j - x - off_{j-1}^2 / q_{j-1}).
    """
    n = diag.shape[0]
    npt = xs.shape[0]
    xmax = -1e300
    for p in range(npt):
        xmax = max(xmax, xs[p])
    kstop = n
    for k in range(1, n):
        if dsuf[k] - xmax >= 2.0 * esuf[k - 1]:
            kstop = k
            break
    q = np.empty(npt)
    cnt = np.zeros(npt, dtype=np.int64)
    d0 = diag[0]
    for p in range(npt):
        q[p] = d0 - xs[p]
        if q[p] < 0.0:
            cnt[p] += 1
    for k in range(1, kstop):
        dk = diag[k]
        o2 = off2[k - 1]
        for p in range(npt):
            qp = q[p]
            if qp == 0.0:
                qp = 1e-300
            qn = dk - xs[p] - o2 / qp
            q[p] = qn
            cnt[p] += qn < 0.0
    if kstop < n:
        safe = True
        for p in range(npt):
            if not q[p] >= esuf[kstop - 1]:
                safe = False
        if not safe:
            for k in range(kstop, n):
                dk = diag[k]
                o2 = off2[k - 1]
                for p in range(npt):
                    qp = q[p]
                    if qp == 0.0:
                        qp = 1e-300
                    qn = dk - xs[p] - o2 / qp
                    q[p] = qn
                    cnt[p] += qn < 0.0
    return cnt


@njit(cache=True)
def _newton_block(diag: np.ndarray, off: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Newton refinement of all predicted eigenvalues x[i] (index i = pivot row) at once.

    Same continued-fraction function as ``_refine_lambda``, evaluated for every i in one
    sweep over the rows (independent divisions: vectorises).  The backward fractions start
    30 rows beyond the point where the recurrence is strongly evanescent for the largest
    x.  Returns a flag per i: 1 converged, 0 not (the caller falls back to bisection).
    """
    n = diag.shape[0]
    nev = x.shape[0]
    x0 = x.copy()
    xmax = -1e300
    for i in range(nev):
        xmax = max(xmax, x[i])
    ktop = n - 1
    for k in range(nev, n):
        if diag[k] - xmax > 4.0 * (off[k] + off[k - 1]):
            ktop = min(n - 1, k + 30)
            break
    up = np.zeros(nev)
    dup = np.zeros(nev)
    wd = np.zeros(nev)
    dwd = np.zeros(nev)
    active = np.ones(nev, dtype=np.bool_)
    conv = np.zeros(nev, dtype=np.int64)
    for _ in range(12):
        for i in range(nev):
            up[i] = 0.0
            dup[i] = 0.0
            wd[i] = 0.0
            dwd[i] = 0.0
        for k in range(ktop, 0, -1):
            dk = diag[k]
            ok_ = off[k] if k < n - 1 else 0.0
            om = off[k - 1]
            for i in range(min(k, nev)):
                den = dk - x[i] + ok_ * up[i]
                dden = -1.0 + ok_ * dup[i]
                if den == 0.0:
                    den = 1e-300
                rd = 1.0 / den
                up[i] = -om * rd
                dup[i] = om * dden * rd * rd
        for k in range(0, nev - 1):
            dk = diag[k]
            ok_ = off[k]
            om = off[k - 1] if k > 0 else 0.0
            for i in range(k + 1, nev):
                den = dk - x[i] + om * wd[i]
                dden = -1.0 + om * dwd[i]
                if den == 0.0:
                    den = 1e-300
                rd = 1.0 / den
                wd[i] = -ok_ * rd
                dwd[i] = ok_ * dden * rd * rd
        nact = 0
        for i in range(nev):
            if not active[i]:
                continue
            f = diag[i] - x[i]
            df = -1.0
            if i < n - 1:
                f += off[i] * up[i]
                df += off[i] * dup[i]
            if i > 0:
                f += off[i - 1] * wd[i]
                df += off[i - 1] * dwd[i]
            if df == 0.0 or not math.isfinite(f) or not math.isfinite(df):
                active[i] = False
                continue
            xn = x[i] - f / df
            sc = max(1.0, abs(xn))
            if not (abs(xn - x0[i]) < 1e-2 * max(1.0, abs(x0[i]))):
                active[i] = False
                continue
            step = abs(xn - x[i])
            x[i] = xn
            # quadratic convergence: after a step <= 1e-9 the error is ~1e-18 (relative)
            if step <= 1e-9 * sc:
                active[i] = False
                conv[i] = 1
            else:
                nact += 1
        if nact == 0:
            break
    return conv


@njit(cache=True)
def _ratio_vectors_raw(
    diag: np.ndarray, off: np.ndarray, ev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``_ratio_vectors`` before normalisation: (V, s), the unit vectors are V[:, i] * s[i]."""
    n = diag.shape[0]
    nev = ev.shape[0]
    V = np.zeros((n, nev))
    u = np.zeros(nev)
    # upward ratios u_k = v_k / v_{k-1} for k > i, from the end of the block
    for k in range(n - 1, 0, -1):
        dk = diag[k]
        ok_ = off[k] if k < n - 1 else 0.0
        om = off[k - 1]
        for i in range(min(k, nev)):
            den = dk - ev[i] + ok_ * u[i]
            if den == 0.0:
                den = 1e-300
            u[i] = -om / den
            V[k, i] = u[i]
    # downward ratios w_k = v_k / v_{k+1} for k < i
    w = np.zeros(nev)
    for k in range(0, nev - 1):
        dk = diag[k]
        ok_ = off[k]
        om = off[k - 1] if k > 0 else 0.0
        for i in range(k + 1, nev):
            den = dk - ev[i] + om * w[i]
            if den == 0.0:
                den = 1e-300
            w[i] = -ok_ / den
            V[k, i] = w[i]
    # multiply out from the pivot
    for i in range(nev):
        V[i, i] = 1.0
    for k in range(1, n):
        for i in range(min(k, nev)):
            V[k, i] *= V[k - 1, i]
    for k in range(nev - 2, -1, -1):
        for i in range(k + 1, nev):
            V[k, i] *= V[k + 1, i]
    s = np.zeros(nev)
    for k in range(n):
        for i in range(nev):
            s[i] += V[k, i] * V[k, i]
    for i in range(nev):
        s[i] = 1.0 / math.sqrt(s[i])
    return V, s


@njit(cache=True)
def _ratio_vectors(diag: np.ndarray, off: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Eigenvectors for all ev[i] (pivot row i) by the ratio method, vectorised over i.

    Column i of the result (shape (n, nev)) equals ``_ratio_vector(diag, off, ev[i], i)``.
    """
    V, s = _ratio_vectors_raw(diag, off, ev)
    for k in range(V.shape[0]):
        for i in range(V.shape[1]):
            V[k, i] *= s[i]
    return V


@njit(cache=True)
def _bisect_one(diag: np.ndarray, off2: np.ndarray, i: int, lo: float, hi: float) -> float:
    """The i-th smallest eigenvalue by Sturm-count bisection in [lo, hi] (count(lo) <= i)."""
    a = lo
    b = hi
    for _ in range(200):
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        if _sturm_count(diag, off2, mid) > i:
            b = mid
        else:
            a = mid
    return 0.5 * (a + b)


@njit(cache=True)
def angular_coefficients(
    m: int, c: float, nn: int, kk: int, guess: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and orthonormal-Legendre coefficients for n = m .. m+nn-1.

    Returns (lam, v) with lam shape (nn,), v shape (nn, kk): row j holds the coefficients
    of S_{m,m+j}(c, .) on Pbar_{m+p+2k}^m, p = j % 2, k = 0..kk-1 (unit norm).
    kk must exceed nn//2 + 1 (in practice nn/2 + c + 30).  ``guess`` (length >= nn, NaN
    where unknown) holds predicted eigenvalues, e.g. extrapolated from neighbouring
    frequencies.  Missing predictions are extrapolated along the block (quadratic in the
    index) or, for the lowest three, found by bisection.  Every eigenvalue is refined by
    Newton iteration on the continued fraction (all of a block at once) and accepted only
    if Sturm counts confirm its index; each one that fails is found by bisection instead.
    """
    lam = np.empty(nn)
    v = np.empty((nn, kk))  # every row is written below
    for p in range(2):
        nev = (nn - p + 1) // 2
        if nev <= 0:
            continue
        diag, off = _recurrence_block(m, c, p, kk)
        off2 = off[: kk - 1] ** 2
        # Gershgorin bounds and suffix extrema for the truncated Sturm counts
        glo, ghi = _gershgorin_bounds(diag, off, kk)
        dsuf = np.empty(kk)
        esuf = np.empty(kk)
        dsuf[kk - 1] = diag[kk - 1]
        esuf[kk - 1] = abs(off[kk - 1])
        for k in range(kk - 2, -1, -1):
            dsuf[k] = min(dsuf[k + 1], diag[k])
            esuf[k] = max(esuf[k + 1], abs(off[k]))
        x = np.empty(nev)
        for i in range(nev):
            j = p + 2 * i
            gsv = guess[j] if j < guess.shape[0] else np.nan
            if not math.isfinite(gsv):
                if i >= 3:
                    # degree not seen at the previous frequency: extrapolate along the block
                    gsv = 3.0 * x[i - 1] - 3.0 * x[i - 2] + x[i - 3]
                else:
                    lo = glo if i == 0 else x[i - 1]
                    gsv = _bisect_one(diag, off2, i, lo, ghi)
            x[i] = gsv
        conv = _newton_block(diag, off, x)
        # index check: exactly i eigenvalues below x_i - d and i + 1 below x_i + d
        pts = np.empty(2 * nev)
        for i in range(nev):
            d = 1e-9 * max(1.0, abs(x[i]))
            pts[2 * i] = x[i] - d
            pts[2 * i + 1] = x[i] + d
        cnt = _sturm_counts(diag, off2, pts, dsuf, esuf)
        for i in range(nev):
            if conv[i] == 1 and cnt[2 * i] == i and cnt[2 * i + 1] == i + 1:
                continue
            # x[:i] are final (confirmed or bisected): bisect above x[i - 1]
            lo = glo
            if i > 0:
                lo = max(glo, x[i - 1] - 1e-9 * max(1.0, abs(x[i - 1])))
            x[i] = _refine_lambda(diag, off, _bisect_one(diag, off2, i, lo, ghi), i)
        V, sn = _ratio_vectors_raw(diag, off, x)
        for i in range(nev):
            j = p + 2 * i
            lam[j] = x[i]
            si = sn[i]
            for k in range(kk):
                v[j, k] = V[k, i] * si
    return lam, v


@njit(cache=True)
def angle_function(m: int, v: np.ndarray, pcol: np.ndarray) -> np.ndarray:
    """S_{m,m+j}(c, eta) for all rows j of v, given pcol[k] = Pbar_{m+k}^m(eta)."""
    nn, kk = v.shape
    out = np.empty(nn)
    # the two parities of the column, contiguous (same sums, in the same order)
    pe = np.ascontiguousarray(pcol[0::2])
    po = np.ascontiguousarray(pcol[1::2])
    for j in range(nn):
        src = pe if j % 2 == 0 else po
        kmax = min(kk, src.shape[0])
        s = 0.0
        for k in range(kmax):
            s += v[j, k] * src[k]
        out[j] = s
    return out


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dots4(
    v: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[float, float, float, float]:
    """(sum v a, sum |v a|, sum v b, sum v c): reassociation allowed (SIMD), no other fast-math."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for k in range(v.shape[0]):
        t = v[k] * a[k]
        s0 += t
        s1 += abs(t)
        s2 += v[k] * b[k]
        s3 += v[k] * c[k]
    return s0, s1, s2, s3


@njit(cache=True)
def radial_eta0(
    m: int, c: float, xi: float, v: np.ndarray, second: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Radial functions R1 (second=False) or R2 (second=True) and d/dxi by the eta = 0 form.

    Returns (rm, rpm, re, loss): R = rm * 10**re, R' = rpm * 10**re (per degree j), and the
    estimated number of decimal digits lost to cancellation in the denominator S(c, 0) or
    S'(c, 0).  For second=True the expansion needs xi > sqrt(2) (use xi >= XI_START).
    """
    kk = v.shape[1]
    lmax = m + 2 * kk + 1
    x = c * math.sqrt(xi * xi - 1.0)
    if second:
        zm, zpm, ze = sph_yn_scaled(x, lmax)
    else:
        zm, zpm, ze = sph_jn_scaled(x, lmax)
    p0, dp0 = pbar_at_zero(m, 2 * kk + 2)
    return radial_eta0_z(m, c, xi, v, zm, zpm, ze, p0, dp0)


@njit(cache=True)
def radial_eta0_z(
    m: int,
    c: float,
    xi: float,
    v: np.ndarray,
    zm: np.ndarray,
    zpm: np.ndarray,
    ze: np.ndarray,
    p0: np.ndarray,
    dp0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``radial_eta0`` with precomputed ingredients (shared by all orders of a frequency).

    zm, zpm, ze: ``sph_jn_scaled`` or ``sph_yn_scaled`` of x = c sqrt(xi^2 - 1), at least up
    to l = m + 2 kk + 1; p0, dp0: ``pbar_at_zero(m, nl)``, nl >= 2 kk + 2 (longer arrays are
    fine: only the leading entries are read).
    """
    nn, kk = v.shape
    sq = math.sqrt(xi * xi - 1.0)
    dxdxi = c * xi / sq
    rm = np.empty(nn)
    rpm = np.empty(nn)
    re = np.zeros(nn)
    loss = np.empty(nn)
    # fast path: all z_l representable as plain doubles -> one scaling for every degree
    zlo = 10**9
    zhi = -(10**9)
    for l in range(m, m + 2 * kk + 1):
        if zm[l] != 0.0:
            zlo = min(zlo, ze[l])
            zhi = max(zhi, ze[l])
    # smallest exponent among the pivot orders l = m + j (the size of R for degree j)
    zpiv = 10**9
    for j in range(nn):
        if zm[m + j] != 0.0:
            zpiv = min(zpiv, ze[m + j])
    # terms far below every pivot (< 1e-50 of it) may underflow harmlessly
    fast = zhi < 280 and zpiv > -250
    # per parity: P_k = Pbar(0) (p = 0) or Pbar'(0) (p = 1) of degree m + p + 2k, and for the
    # fast path T_k = (-1)^k P_k z_{m+p+2k}, Tp_k likewise with z'; then for degree
    # j = p + 2i: numerator = (-1)^i sum_k v_jk T_k (vectorised dot products)
    pk = np.zeros((2, kk))
    tk = np.zeros((2, kk))
    tpk = np.zeros((2, kk))
    for p in range(2):
        for k in range(kk):
            r = p + 2 * k
            pk[p, k] = p0[r] if p == 0 else dp0[r]
            if fast:
                sc = pow10(ze[m + r])
                if k % 2 == 1:
                    sc = -sc
                tk[p, k] = pk[p, k] * zm[m + r] * sc
                tpk[p, k] = pk[p, k] * zpm[m + r] * sc
    for j in range(nn):
        p = j % 2
        # denominator and its cancellation estimate
        if fast:
            den, dabs, s, sp = _dots4(v[j], pk[p], tk[p], tpk[p])
            if (j // 2) % 2 == 1:
                s = -s
                sp = -sp
        else:
            den, dabs, s, sp = _dots4(v[j], pk[p], pk[p], pk[p])
        if dabs == 0.0 or den == 0.0:
            loss[j] = 99.0
        else:
            loss[j] = math.log10(dabs / abs(den))
        eint = 0.0
        if not fast:
            s = 0.0
            sp = 0.0
            # common exponent of the numerator terms; each term as (mantissa of v P) *
            # z mantissa * 10**(integer exponent): no log10/pow per term
            emax = -(10**9)
            for k in range(kk):
                r = p + 2 * k
                a = abs(v[j, k] * pk[p, k])
                if a > 0.0 and zm[m + r] != 0.0:
                    e = floor_log10(a) + ze[m + r]
                    if e > emax:
                        emax = e
            ei = emax + 1
            eint = float(ei)
            for k in range(kk):
                r = p + 2 * k
                a = v[j, k] * pk[p, k]
                if a == 0.0:
                    continue
                ea = floor_log10(abs(a))
                ex = ea + ze[m + r] - ei
                if ex < -320:
                    continue
                # a / 10**ea in [1, 10) (two factors where 10**-ea would overflow); the product
                # with 10**ex <= 0.1 cannot overflow
                if ea > -300:
                    am = a * pow10(-ea)
                else:
                    am = (a * 1e300) * pow10(-ea - 300)
                sc = am * pow10(ex)
                if (k - j // 2) % 2 != 0:
                    sc = -sc
                s += zm[m + r] * sc
                sp += zpm[m + r] * sc
        if p == 0:
            rm[j] = s / den
            rpm[j] = dxdxi * sp / den
        else:
            f = xi / sq
            fp = -1.0 / (sq * sq * sq)
            rm[j] = f * s / den
            rpm[j] = (fp * s + f * dxdxi * sp) / den
        re[j] = eint
        # renormalise mantissa
        a = max(abs(rm[j]), abs(rpm[j]))
        if a > 0.0 and math.isfinite(a):
            sh = math.floor(math.log10(a))
            rm[j] /= 10.0**sh
            rpm[j] /= 10.0**sh
            re[j] += sh
    return rm, rpm, re, loss


@njit(cache=True)
def _taylor_coefficients4(
    kb: int,
    a0: float,
    a1h: float,
    b0h: float,
    a2h2: float,
    b1h2: float,
    ak4: np.ndarray,
    bk4: np.ndarray,
    inv4: np.ndarray,
    kp4: np.ndarray,
) -> None:
    """Degree-independent factors of the Taylor recurrence for the four terms kb..kb+3."""
    for t in range(4):
        kf = kb + t
        ak4[t] = (kf + 1.0) * (a1h * kf + b0h)
        bk4[t] = a2h2 * kf * (kf - 1.0) + b1h2 * kf
        inv4[t] = -1.0 / (a0 * (kf + 2.0) * (kf + 1.0))
        kp4[t] = kf + 2.0


@njit(cache=True)
def r2_integrate_all(
    m: int,
    c: float,
    lam: np.ndarray,
    xs: float,
    r0: np.ndarray,
    rp0: np.ndarray,
    xe: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integrate the radial ODE of every degree from xi = xs (values r0, rp0) inwards to
    xi = xe < xs, with one step sequence, vectorised over degrees.

    The reduced equation for w = R (xi^2-1)^(-m/2), (xi^2-1) w'' + 2(m+1) xi w' +
    (c^2 xi^2 - lam + m(m+1)) w = 0, has polynomial coefficients of degree <= 2, so its
    Taylor coefficients obey a five-term recurrence; the series has radius of
    convergence xi - 1.

    The step is the smallest any degree needs (0.55 (xi - 1) and 12/rate for the extreme
    eigenvalues); every degree's Taylor series is summed until its own three successive
    terms are < 1e-17 of its largest (a degree that converged earlier keeps adding its
    smaller terms; the test is made after every block of four terms).  The terms are
    computed four at a time per degree, with the recurrence state held in registers (the
    loop over degrees vectorises; it was bound by the stores of the state).
    Returns (R, R', log10 scale, ok) per degree: the true values are R*10**scale,
    R'*10**scale relative to the scale of (r0, rp0).
    """
    nn = lam.shape[0]
    qs = xs * xs - 1.0
    y0 = np.empty(nn)
    y1 = np.empty(nn)
    ex = np.empty(nn)
    ok = np.ones(nn, dtype=np.bool_)
    e0 = -0.5 * m * math.log10(qs)
    lmin = 1e300
    lmax = -1e300
    for j in range(nn):
        y0[j] = r0[j]
        y1[j] = rp0[j] - m * xs * r0[j] / qs
        ex[j] = e0
        lmin = min(lmin, lam[j])
        lmax = max(lmax, lam[j])
    s = xs
    rho = 0.55
    c2 = c * c
    mm1 = m + 1.0
    mf = float(m)
    bm2 = np.empty(nn)
    bm1 = np.empty(nn)
    bk = np.empty(nn)
    bk1 = np.empty(nn)
    val = np.empty(nn)
    der = np.empty(nn)
    scale = np.empty(nn)
    small = np.empty(nn, dtype=np.int64)
    c0h2 = np.empty(nn)
    kprev = 0
    ak4 = np.empty(4)
    bk4 = np.empty(4)
    inv4 = np.empty(4)
    kp4 = np.empty(4)
    while s > xe:
        q = s * s - 1.0
        dl = max(abs(lmin - c2 * s * s), abs(lmax - c2 * s * s))
        rate = math.sqrt(dl / q + mf * mf / (q * q)) + 1.0
        h = min(rho * (s - 1.0), 12.0 / rate)
        last = False
        if s - h < xe:
            h = s - xe
            last = True
        hs = -h
        a0 = s * s - 1.0
        a1h = 2.0 * s * hs
        a2h2 = hs * hs
        b0h = 2.0 * mm1 * s * hs
        b1h2 = 2.0 * mm1 * hs * hs
        c1h3 = 2.0 * c2 * s * hs * hs * hs
        c2h4 = c2 * hs * hs * hs * hs
        for j in range(nn):
            c0h2[j] = (c2 * s * s - lam[j] + mf * mm1) * hs * hs
            bm2[j] = 0.0
            bm1[j] = 0.0
            bk[j] = y0[j]
            bk1[j] = y1[j] * hs
            val[j] = y0[j] + bk1[j]
            der[j] = bk1[j]
            scale[j] = max(abs(y0[j]), abs(bk1[j]))
            small[j] = 0
        # terms before kchk are summed without the convergence bookkeeping (only the
        # running maximum): a step needs about as many terms as the previous full one
        kchk = max(0, kprev - 10) if not last else 0
        kb = 0
        while kb + 4 <= kchk:
            _taylor_coefficients4(kb, a0, a1h, b0h, a2h2, b1h2, ak4, bk4, inv4, kp4)
            for j in range(nn):
                x0 = bm2[j]
                x1 = bm1[j]
                x2 = bk[j]
                x3 = bk1[j]
                vj = val[j]
                dj = der[j]
                sj = scale[j]
                cj = c0h2[j]
                for t in range(4):
                    b2 = (ak4[t] * x3 + (bk4[t] + cj) * x2 + c1h3 * x1 + c2h4 * x0) * inv4[t]
                    vj += b2
                    dj += kp4[t] * b2
                    sj = max(sj, abs(b2))
                    x0 = x1
                    x1 = x2
                    x2 = x3
                    x3 = b2
                bm2[j] = x0
                bm1[j] = x1
                bk[j] = x2
                bk1[j] = x3
                val[j] = vj
                der[j] = dj
                scale[j] = sj
            kb += 4
        for k in range(kb, kchk):
            ak = (k + 1.0) * (a1h * k + b0h)
            bkc = a2h2 * k * (k - 1.0) + b1h2 * k
            inv = -1.0 / (a0 * (k + 2.0) * (k + 1.0))
            kp2 = k + 2.0
            for j in range(nn):
                num = ak * bk1[j] + (bkc + c0h2[j]) * bk[j] + c1h3 * bm1[j] + c2h4 * bm2[j]
                b2 = num * inv
                val[j] += b2
                der[j] += kp2 * b2
                scale[j] = max(scale[j], abs(b2))
                bm2[j] = bm1[j]
                bm1[j] = bk[j]
                bk[j] = bk1[j]
                bk1[j] = b2
        kend = kchk
        kb = kchk
        while kb < 600:
            _taylor_coefficients4(kb, a0, a1h, b0h, a2h2, b1h2, ak4, bk4, inv4, kp4)
            nconv = 0
            for j in range(nn):
                x0 = bm2[j]
                x1 = bm1[j]
                x2 = bk[j]
                x3 = bk1[j]
                vj = val[j]
                dj = der[j]
                sj = scale[j]
                smj = small[j]
                cj = c0h2[j]
                for t in range(4):
                    b2 = (ak4[t] * x3 + (bk4[t] + cj) * x2 + c1h3 * x1 + c2h4 * x0) * inv4[t]
                    vj += b2
                    dj += kp4[t] * b2
                    ab = abs(b2)
                    sj = max(sj, ab)
                    smj = smj + 1 if ab * kp4[t] <= 1e-17 * sj else 0
                    x0 = x1
                    x1 = x2
                    x2 = x3
                    x3 = b2
                bm2[j] = x0
                bm1[j] = x1
                bk[j] = x2
                bk1[j] = x3
                val[j] = vj
                der[j] = dj
                scale[j] = sj
                small[j] = smj
                nconv += smj >= 3
            kb += 4
            kend = kb
            if nconv == nn:
                break
        if not last:
            kprev = kend
        for j in range(nn):
            if small[j] < 3:
                ok[j] = False
            y0[j] = val[j]
            y1[j] = der[j] / hs
        s = s - h
        if s - xe < 1e-14:
            s = xe
        for j in range(nn):
            a = max(abs(y0[j]), abs(y1[j]))
            if a > 1e100 or (a < 1e-100 and a > 0.0):
                sh = math.floor(math.log10(a))
                y0[j] /= 10.0**sh
                y1[j] /= 10.0**sh
                ex[j] += sh
    qe = xe * xe - 1.0
    rp = np.empty(nn)
    for j in range(nn):
        rp[j] = y1[j] + m * xe * y0[j] / qe
        ex[j] += 0.5 * m * math.log10(qe)
    return y0, rp, ex, ok


@njit(cache=True)
def radial_second(
    m: int, c: float, xi: float, lam: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """R2 and dR2/dxi for all degrees at xi (mantissa, mantissa, exponent, ok flag)."""
    kk = v.shape[1]
    xs = max(xi, XI_START)
    x = c * math.sqrt(xs * xs - 1.0)
    zm, zpm, ze = sph_yn_scaled(x, m + 2 * kk + 1)
    p0, dp0 = pbar_at_zero(m, 2 * kk + 2)
    return radial_second_z(m, c, xi, lam, v, zm, zpm, ze, p0, dp0)


@njit(cache=True)
def radial_second_z(
    m: int,
    c: float,
    xi: float,
    lam: np.ndarray,
    v: np.ndarray,
    zm: np.ndarray,
    zpm: np.ndarray,
    ze: np.ndarray,
    p0: np.ndarray,
    dp0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``radial_second`` with precomputed y_l of x = c sqrt(max(xi, XI_START)^2 - 1) and
    Pbar(0) (see ``radial_eta0_z``)."""
    nn = v.shape[0]
    ok = np.ones(nn, dtype=np.bool_)
    if xi >= XI_START:
        rm, rpm, re, loss = radial_eta0_z(m, c, xi, v, zm, zpm, ze, p0, dp0)
        for j in range(nn):
            if loss[j] > 8.0 or not math.isfinite(rm[j]):
                ok[j] = False
        return rm, rpm, re, ok
    rm0, rpm0, re0, loss = radial_eta0_z(m, c, XI_START, v, zm, zpm, ze, p0, dp0)
    rm = np.empty(nn)
    rpm = np.empty(nn)
    re = np.empty(nn)
    ys, yps, exs, good = r2_integrate_all(m, c, lam[:nn], XI_START, rm0, rpm0, xi)
    for j in range(nn):
        if loss[j] > 8.0 or not math.isfinite(rm0[j]):
            ok[j] = False
        if not good[j]:
            ok[j] = False
        y0 = ys[j]
        y1 = yps[j]
        a = max(abs(y0), abs(y1))
        sh = 0.0
        if a > 0.0 and math.isfinite(a):
            sh = math.floor(math.log10(a))
        rm[j] = y0 / 10.0**sh
        rpm[j] = y1 / 10.0**sh
        re[j] = re0[j] + exs[j] + sh
    return rm, rpm, re, ok
