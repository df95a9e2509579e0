"""Orthonormal associated Legendre functions and spherical Bessel functions (numba kernels).

Conventions
-----------
``Pbar(m, l, eta)`` is the associated Legendre function of the first kind *without* the
Condon-Shortley phase, normalised to unit L2 norm on [-1, 1]:
``int_{-1}^{1} Pbar_l^m(eta)^2 d eta = 1``.  Every formula in this package uses the same
convention, so the phase cancels (spheroidal functions enter the backscatter twice).

Spherical Bessel functions are returned in a (mantissa, base-10 exponent) form so that
orders far above the argument neither overflow (y_l) nor underflow (j_l):
``j_l(x) = jm[l] * 10**je[l]``.  The derivative mantissa shares the exponent of the value.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_BIG = 1e150
_BIGEXP = 150


# 10**k for integer k in [-330, 308] (outside: 0 or inf, as 10.0**k); a table lookup is much
# cheaper than pow() in the per-order mantissa/exponent bookkeeping
_P10 = np.array([10.0**k for k in range(-330, 309)])
_LOG10_2 = math.log10(2.0)


@njit(cache=True)
def pow10(k: int) -> float:
    """10.0**k for integer k (table lookup)."""
    if k < -330:
        return 0.0
    if k > 308:
        return math.inf
    return _P10[k + 330]


@njit(cache=True)
def floor_log10(a: float) -> int:
    """floor(log10(a)) for finite a > 0, from the binary exponent (no log10 call)."""
    e2 = math.frexp(a)[1]  # a = f * 2**e2, 0.5 <= f < 1
    sh = int(math.floor((e2 - 1) * _LOG10_2))
    # (e2 - 1) log10(2) <= log10(a) < e2 log10(2): sh is exact or one too small
    if a >= pow10(sh + 1):
        sh += 1
    return sh


@njit(cache=True)
def pbar_column(m: int, nl: int, eta: float) -> np.ndarray:
    """Return Pbar_{m+k}^m(eta) for k = 0..nl-1 (unit-norm, no Condon-Shortley phase).

    Uses the normalised three-term recurrence in the degree, stable for all m and l.
    For |eta| = 1 and m > 0 all values are zero.
    """
    out = np.zeros(nl)
    s2 = 1.0 - eta * eta
    if s2 < 0.0:
        s2 = 0.0
    # log of Pbar_m^m to avoid underflow for large m
    lg = 0.5 * math.log((2 * m + 1) / 2.0)
    for k in range(1, m + 1):
        lg += 0.5 * math.log((2.0 * k - 1.0) / (2.0 * k))
    if m > 0:
        if s2 == 0.0:
            return out
        lg += 0.5 * m * math.log(s2)
    if lg < -700.0:
        # starting value underflows; the whole column is negligible at these orders
        p0 = 0.0
    else:
        p0 = math.exp(lg)
    if nl > 0:
        out[0] = p0
    if nl > 1:
        out[1] = math.sqrt(2.0 * m + 3.0) * eta * p0
    a_prev = math.sqrt(2.0 * m + 3.0)
    for k in range(2, nl):
        ll = m + k
        a_l = math.sqrt((4.0 * ll * ll - 1.0) / (ll * ll - m * m))
        out[k] = a_l * (eta * out[k - 1] - out[k - 2] / a_prev)
        a_prev = a_l
    return out


@njit(cache=True)
def pbar_at_zero(m: int, nl: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (Pbar_{m+k}^m(0), dPbar_{m+k}^m/deta(0)) for k = 0..nl-1.

    Pbar(0) vanishes for odd k and Pbar'(0) for even k.  Uses
    Pbar'_l(0) = sqrt((2l+1)/(2l-1) (l-m)(l+m)) Pbar_{l-1}(0).
    """
    p = pbar_column(m, nl, 0.0)
    dp = np.zeros(nl)
    for k in range(1, nl):
        ll = m + k
        dp[k] = math.sqrt((2.0 * ll + 1.0) / (2.0 * ll - 1.0) * (ll - m) * (ll + m)) * p[k - 1]
    return p, dp


@njit(cache=True)
def sph_jn_scaled(x: float, lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical Bessel j_l(x), l = 0..lmax, and derivatives, as mantissa/exponent.

    Returns (jm, jpm, je) with j_l = jm[l]*10**je[l] and j_l' = jpm[l]*10**je[l].
    Downward (Miller) recurrence with rescaling, normalised with the exact j_0 or j_1,
    whichever is larger in magnitude.  Valid for x > 0.
    """
    ltop = max(lmax, int(x)) + int(math.sqrt(40.0 * max(lmax, x, 1.0))) + 20
    nf = ltop + 2
    f = np.zeros(nf)
    fe = np.zeros(nf, dtype=np.int64)
    f[ltop + 1] = 0.0
    f[ltop] = 1e-280
    e = 0
    fe[ltop] = 0
    fe[ltop + 1] = 0
    for l in range(ltop, 0, -1):
        val = (2.0 * l + 1.0) / x * f[l] - f[l + 1]
        if abs(val) > _BIG:
            # rescale the two running values; remember the shift for all lower orders
            val /= _BIG
            f[l] /= _BIG
            e += _BIGEXP
            fe[l] = e
        f[l - 1] = val
        fe[l - 1] = e
    # exact j0, j1
    sx = math.sin(x)
    cx = math.cos(x)
    j0 = sx / x
    j1 = sx / (x * x) - cx / x
    # unscaled f_l is f[l]*10**(-fe[l]) relative to the top normalisation
    if abs(j0) >= abs(j1):
        k = 0
        jk = j0
    else:
        k = 1
        jk = j1
    # stored f[l] is the running value divided by 10**fe[l], so
    # j_l = f[l]*10**fe[l] * jk / (f[k]*10**fe[k]) = (f[l]*jk/f[k]) * 10**(fe[l]-fe[k])
    scale = jk / f[k]
    jm = np.empty(lmax + 2)
    je = np.empty(lmax + 2, dtype=np.int64)
    for l in range(lmax + 2):
        v = f[l] * scale
        ex = fe[l] - fe[k]
        if v != 0.0:
            sh = floor_log10(abs(v))
            v = v / pow10(sh)
            ex += sh
        jm[l] = v
        je[l] = ex
    jpm = np.empty(lmax + 1)
    jpm[0] = -jm[1] * pow10(je[1] - je[0])
    for l in range(1, lmax + 1):
        jpm[l] = jm[l - 1] * pow10(je[l - 1] - je[l]) - (l + 1.0) / x * jm[l]
    return jm[: lmax + 1], jpm, je[: lmax + 1]


@njit(cache=True)
def sph_yn_scaled(x: float, lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical Bessel y_l(x), l = 0..lmax, and derivatives, as mantissa/exponent.

    Upward recurrence (stable for y_l) with rescaling.  Returns (ym, ypm, ye) with
    y_l = ym[l]*10**ye[l] and y_l' = ypm[l]*10**ye[l].  Valid for x > 0.
    """
    ym = np.empty(lmax + 2)
    ye = np.zeros(lmax + 2, dtype=np.int64)
    sx = math.sin(x)
    cx = math.cos(x)
    ym[0] = -cx / x
    ym[1] = -cx / (x * x) - sx / x
    a = ym[0]
    b = ym[1]
    e = 0
    for l in range(1, lmax + 1):
        c = (2.0 * l + 1.0) / x * b - a
        a = b
        b = c
        if abs(b) > _BIG:
            a /= _BIG
            b /= _BIG
            e += _BIGEXP
        ym[l + 1] = b
        ye[l + 1] = e
    # normalise mantissas
    for l in range(lmax + 2):
        v = ym[l]
        if v != 0.0:
            sh = floor_log10(abs(v))
            ym[l] = v / pow10(sh)
            ye[l] += sh
    ypm = np.empty(lmax + 1)
    ypm[0] = -ym[1] * pow10(ye[1] - ye[0])
    for l in range(1, lmax + 1):
        ypm[l] = ym[l - 1] * pow10(ye[l - 1] - ye[l]) - (l + 1.0) / x * ym[l]
    return ym[: lmax + 1], ypm, ye[: lmax + 1]
