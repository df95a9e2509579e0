"""Backscatter of a solid elastic sphere in water (Faran 1951; MacLennan 1981).

Calibration spheres (tungsten carbide, copper) are every user's sanity check of TS(f).
The modal solution in the form of MacLennan (1981): with ``q = k a`` in water,
``q_L = q c_w/c_L``, ``q_T = q c_w/c_T``, ``α = 2(ρ_s/ρ_w)(c_T/c_w)²``, ``β =
(ρ_s/ρ_w)(c_L/c_w)² − α``, each mode's phase shift ``η_n`` follows from the elastic
boundary conditions; the backscatter form function is ``f = −(2/q) Σ (−1)ⁿ (2n+1) sin η_n
e^{iη_n}`` and ``σ_bs = a² |f|² / 4``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import spherical_jn, spherical_yn

from ts_toolkit.interfaces import ParameterSpec, Simulator

MATERIALS: dict[str, tuple[float, float, float]] = {
    # density (kg/m3), longitudinal and transverse sound speed (m/s)
    "wc": (14900.0, 6853.0, 4171.0),  # tungsten carbide, 6 % cobalt
    "cu": (8947.0, 4760.0, 2288.5),  # copper (Foote 1990 values)
}

TUNGSTEN_CARBIDE = {"rho_s": 14900.0, "c_L": 6853.0, "c_T": 4171.0}


def _jn_second(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Second derivative of the spherical Bessel function j_n, from its ODE."""
    return -(2.0 / x) * spherical_jn(n, x, derivative=True) - (
        1.0 - n * (n + 1.0) / x**2
    ) * spherical_jn(n, x)


def elastic_sphere_form_function(
    frequency: npt.ArrayLike,
    a: float,
    rho_s: float,
    c_l: float,
    c_t: float,
    rho_w: float,
    c_w: float,
) -> np.ndarray:
    """Complex backscatter form function ``f`` (dimensionless) at ``frequency`` (Hz) for
    a sphere of radius ``a`` (m), density ``rho_s`` (kg/m³), longitudinal and transverse
    sound speeds ``c_l``, ``c_t`` (m/s) in water of ``rho_w`` (kg/m³), ``c_w`` (m/s).

    Modal phase shifts in MacLennan's (1981) form of Faran's solution.
    """
    f = np.atleast_1d(np.asarray(frequency, float))
    q = 2 * np.pi * f * a / c_w
    n_max = int(np.ceil(q.max() + 4 * q.max() ** (1 / 3) + 10))
    n = np.arange(n_max + 1)[:, None]
    x = q[None, :]
    x1 = x * c_w / c_l
    x2 = x * c_w / c_t
    alpha = 2.0 * (rho_s / rho_w) * (c_t / c_w) ** 2
    beta = (rho_s / rho_w) * (c_l / c_w) ** 2 - alpha
    j1, dj1 = spherical_jn(n, x1), spherical_jn(n, x1, derivative=True)
    j2, dj2 = spherical_jn(n, x2), spherical_jn(n, x2, derivative=True)
    a2 = (n**2 + n - 2) * j2 + x2**2 * _jn_second(n, x2)
    a1 = 2 * n * (n + 1) * (x1 * dj1 - j1)
    b2 = a2 * x1**2 * (beta * j1 - alpha * _jn_second(n, x1)) - a1 * alpha * (j2 - x2 * dj2)
    b1 = x * (a2 * x1 * dj1 - a1 * j2)
    num = b2 * spherical_jn(n, x, derivative=True) - b1 * spherical_jn(n, x)
    den = b2 * spherical_yn(n, x, derivative=True) - b1 * spherical_yn(n, x)
    eta = np.arctan2(-num, den)
    terms = (-1.0) ** n * (2 * n + 1) * np.sin(eta) * np.exp(1j * eta)
    return -2.0 / q * terms.sum(axis=0)


def elastic_sphere_ts(
    frequency: npt.ArrayLike,
    a: float,
    rho_s: float = 14900.0,
    c_l: float = 6853.0,
    c_t: float = 4171.0,
    rho_w: float = 1026.0,
    c_w: float = 1500.0,
) -> np.ndarray:
    """Backscatter TS (dB re 1 m²) of an elastic sphere; see the module docstring."""
    form = elastic_sphere_form_function(frequency, a, rho_s, c_l, c_t, rho_w, c_w)
    return 10 * np.log10(a**2 * np.abs(form) ** 2 / 4.0)


def water_density(temperature: float, salinity: float) -> float:
    """Approximate sea-water density (kg/m³) at the surface (UNESCO 1981 EOS-80, p = 0)."""
    t, s = temperature, salinity
    rho_w = (
        999.842594
        + 6.793952e-2 * t
        - 9.095290e-3 * t**2
        + 1.001685e-4 * t**3
        - 1.120083e-6 * t**4
        + 6.536332e-9 * t**5
    )
    return float(
        rho_w
        + s * (0.824493 - 4.0899e-3 * t + 7.6438e-5 * t**2 - 8.2467e-7 * t**3 + 5.3875e-9 * t**4)
        + s**1.5 * (-5.72466e-3 + 1.0227e-4 * t - 1.6546e-6 * t**2)
        + 4.8314e-4 * s**2
    )


def sphere_ts_in_water(
    frequency: npt.ArrayLike, diameter: float, material: str, environment: Any
) -> np.ndarray:
    """TS (dB re 1 m²) of a calibration sphere of ``diameter`` (m) and ``material`` (a key
    of :data:`MATERIALS`) in the water of ``environment`` (``temperature`` °C, ``salinity``
    PSU, sound speed ``c`` m/s)."""
    rho_s, c_l, c_t = MATERIALS[material]
    rho_w = water_density(environment.temperature, environment.salinity)
    return elastic_sphere_ts(frequency, diameter / 2, rho_s, c_l, c_t, rho_w, environment.c)


class ElasticSphere(Simulator):
    """Solid elastic sphere (Faran 1951): calibration spheres, e.g. 38.1 mm tungsten carbide."""

    name: ClassVar[str] = "elastic-sphere"
    version: ClassVar[str] = "1.0"
    kinds: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "a": ParameterSpec("m", 1e-3, 0.1, "sphere radius"),
        "rho_s": ParameterSpec("kg m-3", 1000.0, 25000.0, "sphere density", 14900.0),
        "c_L": ParameterSpec("m s-1", 1000.0, 12000.0, "longitudinal sound speed", 6853.0),
        "c_T": ParameterSpec("m s-1", 500.0, 8000.0, "transverse sound speed", 4171.0),
        "rho_w": ParameterSpec("kg m-3", 990.0, 1060.0, "water density", 1026.0),
        "c_w": ParameterSpec("m s-1", 1400.0, 1600.0, "water sound speed", 1500.0),
    }

    def _ts(self, frequency: np.ndarray, **p: np.ndarray) -> np.ndarray:
        """TS (dB re 1 m²) at ``frequency`` (Hz) of each sphere."""
        names = ("a", "rho_s", "c_L", "c_T", "rho_w", "c_w")
        return np.stack(
            [elastic_sphere_ts(frequency, *(p[k][i] for k in names)) for i in range(p["a"].size)]
        )
