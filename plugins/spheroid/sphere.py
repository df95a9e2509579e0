"""Exact fluid sphere (Anderson 1950) and the ``fluid-sphere`` Simulator.

f_bs = (-i/k) sum_n (2n+1) (-1)^n A_n,
A_n = -[g h j_n'(ka) j_n(k1 a) - j_n(ka) j_n'(k1 a)]
      / [g h h_n'(ka) j_n(k1 a) - h_n(ka) j_n'(k1 a)],
with g = rho_s/rho_w, h = c_s/c_w, h_n = j_n + i y_n (time factor e^{-i omega t}).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy.special import spherical_jn, spherical_yn

from ts_toolkit.interfaces import ParameterSpec, Simulator


def fluid_sphere_fbs(
    frequency: np.ndarray, radius: float, rho_s: float, c_s: float, rho_w: float, c_w: float
) -> np.ndarray:
    """Complex backscattering amplitude (m) of a fluid sphere of ``radius`` (m)."""
    g = rho_s / rho_w
    h = c_s / c_w
    k = 2.0 * np.pi * np.asarray(frequency, dtype=float) / c_w
    ka = k * radius
    k1a = ka / h
    nmax = int(math.ceil(max(ka.max(), k1a.max()) + 4.0 * max(ka.max(), k1a.max()) ** (1 / 3)))
    nmax += 15
    n = np.arange(nmax + 1)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        j = spherical_jn(n, ka)
        jp = spherical_jn(n, ka, derivative=True)
        y = spherical_yn(n, ka)
        yp = spherical_yn(n, ka, derivative=True)
        j1 = spherical_jn(n, k1a)
        j1p = spherical_jn(n, k1a, derivative=True)
        num = g * h * jp * j1 - j * j1p
        den = g * h * (jp + 1j * yp) * j1 - (j + 1j * y) * j1p
        an = -num / den
    an = np.where(np.isfinite(an), an, 0.0)  # orders where y_n overflows: A_n = 0
    terms = (2 * n + 1) * (-1.0) ** n * an
    return -1j / k * terms.sum(axis=0)


class FluidSphere(Simulator):
    """Exact (Anderson 1950) TS of a homogeneous fluid sphere; ``theta`` is not used."""

    name: ClassVar[str] = "fluid-sphere"
    version: ClassVar[str] = "1.0.0"
    kinds: ClassVar[tuple[str, ...]] = ("gas", "liquid")
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "a": ParameterSpec("m", 1e-6, 10.0, "sphere radius"),
        "rho_s": ParameterSpec("kg/m3", 1e-3, 1e5, "density of the interior"),
        "c_s": ParameterSpec("m/s", 1.0, 1e5, "sound speed of the interior"),
        "rho_w": ParameterSpec("kg/m3", 1e-3, 1e5, "density of the water", 1027.0),
        "c_w": ParameterSpec("m/s", 1.0, 1e5, "sound speed of the water", 1500.0),
        "theta": ParameterSpec("deg", 0.0, 90.0, "ignored (sphere)", 90.0),
    }

    def _ts(self, frequency: np.ndarray, **p: np.ndarray) -> np.ndarray:
        """TS (dB re 1 m^2) at ``frequency`` (Hz); radius ``a`` (m), rho_s, c_s, rho_w, c_w."""
        out = np.empty((p["a"].shape[0], frequency.shape[0]))
        for t in range(p["a"].shape[0]):
            fbs = fluid_sphere_fbs(
                frequency,
                float(p["a"][t]),
                float(p["rho_s"][t]),
                float(p["c_s"][t]),
                float(p["rho_w"][t]),
                float(p["c_w"][t]),
            )
            out[t] = 20.0 * np.log10(np.abs(fbs))
        return out
