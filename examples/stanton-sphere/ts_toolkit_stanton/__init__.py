"""Example ts-toolkit plugin: Stanton's (1989) high-pass fluid-sphere model.

Stanton, T. K. (1989), J. Acoust. Soc. Am. 86:1499-1510, eq. for a fluid sphere:

    sigma_bs = a² (ka)⁴ A² / (1 + 4 (ka)⁴ A² / (R² F))

with A = (1 - g h²)/(3 g h²) + (1 - g)/(1 + 2 g), R = (g h - 1)/(g h + 1),
F = 40 (ka)^-0.4; g = rho_s/rho_w, h = c_s/c_w. Stanton's empirical null-correction factor
G is left out (G = 1): this is the plain high-pass form, which joins the Rayleigh limit
at low ka to a geometric-like decay R² a² F/4 at high ka and smooths all resonance structure.
"""

from __future__ import annotations

import numpy as np

from ts_toolkit import hookimpl
from ts_toolkit.interfaces import ParameterSpec, Simulator


class StantonSphere(Simulator):
    """Stanton (1989) high-pass approximation for a fluid sphere (radius a)."""

    name = "stanton-sphere"
    version = "0.1.0"
    kinds = ("gas", "liquid")
    parameters = {
        "a": ParameterSpec("m", 1e-6, 10.0, "sphere radius"),
        "rho_s": ParameterSpec("kg m-3", 0.1, 30000.0, "sphere density"),
        "c_s": ParameterSpec("m s-1", 1.0, 20000.0, "sphere sound speed"),
        "rho_w": ParameterSpec("kg m-3", 500.0, 2000.0, "water density", 1027.0),
        "c_w": ParameterSpec("m s-1", 1000.0, 2000.0, "water sound speed", 1500.0),
    }

    def _ts(self, frequency, a, rho_s, c_s, rho_w, c_w):
        """TS (dB re 1 m²), shape (n_targets, n_freq): the base class has checked and
        broadcast the parameters (1-D arrays) and frequencies (Hz)."""
        a = a[:, None]
        g = (rho_s / rho_w)[:, None]
        h = (c_s / c_w)[:, None]
        ka = 2 * np.pi * frequency[None, :] / c_w[:, None] * a
        big_a = (1 - g * h**2) / (3 * g * h**2) + (1 - g) / (1 + 2 * g)
        r = (g * h - 1) / (g * h + 1)
        big_f = 40.0 * ka**-0.4
        sigma = a**2 * ka**4 * big_a**2 / (1 + 4 * ka**4 * big_a**2 / (r**2 * big_f))
        return 10 * np.log10(sigma)


@hookimpl
def register_simulators(register):
    register(StantonSphere)
