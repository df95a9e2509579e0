"""Refinement: least-squares fit of the exact prolate-spheroid model to a measured TS(f)
from a library member, over Req, alpha, theta and the material contrasts, within bounds.

The fit runs on at most ``n_bins`` of the measured bins (evenly spread over them) and stops
after ``max_evaluations`` model evaluations (each costs one exact spectrum on those bins);
the best parameters seen are kept, so the result is never worse than the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Parameter order of a fit vector (SI units, theta in degrees).
FIT_NAMES = ("Req", "alpha", "theta", "g", "h")


@dataclass
class Fit:
    """A fitted spheroid: Req (m), alpha, theta (deg), g = rho_s/rho_w, h = c_s/c_w, c_w
    (m/s); ``rms_db`` the RMS dB misfit on the fit's bins; ``evaluations`` spent."""

    params: np.ndarray
    c_w: float
    rms_db: float
    evaluations: int

    @property
    def a(self) -> float:
        return float(self.params[0] * self.params[1] ** (2.0 / 3.0))

    @property
    def b(self) -> float:
        return float(self.params[0] / self.params[1] ** (1.0 / 3.0))


def spheroid_ts(
    frequency: np.ndarray, params: np.ndarray, c_w: float, repeated: Any = None
) -> np.ndarray:
    """Exact TS (dB re 1 m²) of a fluid prolate spheroid at ``frequency`` (Hz); ``params`` as
    :data:`FIT_NAMES`. Unconverged bins are NaN. ``repeated``: a
    :class:`~ts_toolkit_plugins.spheroid.warm.RepeatedSpectrum` on ``frequency`` that
    evaluates it (warm-started from its earlier calls), else one cold evaluation."""
    from ts_toolkit_plugins.spheroid.prolate import backscatter_amplitude

    req, alpha, theta, g, h = (float(v) for v in params)
    a = req * alpha ** (2.0 / 3.0)
    b = req / alpha ** (1.0 / 3.0)
    rho_w = 1000.0  # only the ratios g, h enter the fluid boundary conditions
    if repeated is not None:
        fbs, ok = repeated(a, b, theta, g * rho_w, h * c_w, rho_w, c_w)
    else:
        fbs, ok = backscatter_amplitude(frequency, a, b, theta, g * rho_w, h * c_w, rho_w, c_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = 20.0 * np.log10(np.abs(fbs))
    ts[~ok] = np.nan
    return ts


class _Budget(Exception):
    """Raised inside the residual function when the evaluation budget is spent."""


def pick_bins(measured: np.ndarray, n_bins: int) -> np.ndarray:
    """Indices of at most ``n_bins`` measured bins (boolean mask ``measured``), evenly
    spread over them (first and last included)."""
    idx = np.flatnonzero(measured)
    if idx.size <= n_bins:
        return idx
    return idx[np.unique(np.round(np.linspace(0, idx.size - 1, n_bins)).astype(int))]


def refine(
    frequency: np.ndarray,
    ts: np.ndarray,
    start: np.ndarray,
    c_w: float,
    lower: np.ndarray,
    upper: np.ndarray,
    max_evaluations: int,
) -> Fit:
    """Least-squares fit (dB) of :func:`spheroid_ts` to ``ts`` at ``frequency`` (the fit's
    bins, all finite) from ``start``, within [``lower``, ``upper``] per :data:`FIT_NAMES`.

    Req, alpha, g and h are fitted in log space, theta in degrees. A bound that equals its
    other bound holds that parameter fixed (the gas kind's sound-speed contrast)."""
    from scipy.optimize import least_squares

    from ts_toolkit_plugins.spheroid.warm import RepeatedSpectrum

    repeated = RepeatedSpectrum(frequency)
    free = upper > lower
    log = np.array([True, True, False, True, True])
    lo_t = np.where(log, np.log(lower), lower)
    hi_t = np.where(log, np.log(upper), upper)
    x_start = np.where(log, np.log(start), start)
    x_start = np.clip(x_start, lo_t, hi_t)
    fixed = x_start.copy()
    best = {"rms": np.inf, "params": np.asarray(start, float), "n": 0}

    def params_of(z: np.ndarray) -> np.ndarray:
        x = fixed.copy()
        x[free] = z
        return np.where(log, np.exp(x), x)

    def residual(z: np.ndarray) -> np.ndarray:
        if best["n"] >= max_evaluations:
            raise _Budget
        best["n"] += 1
        p = params_of(z)
        r = spheroid_ts(frequency, p, c_w, repeated) - ts
        r = np.where(np.isfinite(r), r, 30.0)  # an unconverged bin counts as a bad fit
        rms = float(np.sqrt(np.mean(r**2)))
        if rms < best["rms"]:
            best["rms"], best["params"] = rms, p
        return r

    z0 = x_start[free]
    span = hi_t[free] - lo_t[free]
    try:
        least_squares(
            residual,
            z0,
            bounds=(lo_t[free], hi_t[free]),
            x_scale=span / 10.0,
            diff_step=1e-3,
            method="trf",
            max_nfev=10 * max_evaluations,
        )
    except _Budget:
        pass
    return Fit(np.asarray(best["params"], float), float(c_w), float(best["rms"]), int(best["n"]))
