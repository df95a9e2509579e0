"""Exact modal-series backscatter of a prolate spheroid and the ``prolate-spheroid`` Simulator.

Conventions: time factor e^{-i omega t}; theta is the angle between the incident direction
and the major axis (90 deg = broadside); TS = 20 log10 |f_bs| in dB re 1 m^2.
See docs/physics.md for the equations, truncation rule and validation.
"""

from __future__ import annotations

import time
import warnings
from typing import ClassVar

import numpy as np

from ts_toolkit.errors import InvalidParameterError
from ts_toolkit.interfaces import ParameterSpec, Simulator
from ts_toolkit.signals import check_interrupt

BOUNDARIES = {"fluid": 0, "rigid": 1, "pressure-release": 2}
BLOCK_SECONDS = 0.2  # aimed-at time of one compiled call (s): the delay before an interrupt
MAX_BLOCK = 4096  # frequencies per compiled call at most


def backscatter_amplitude(
    frequency: np.ndarray,
    a: float,
    b: float,
    theta_deg: float,
    rho_s: float,
    c_s: float,
    rho_w: float,
    c_w: float,
    boundary: str = "fluid",
    extra_m: int = 0,
    extra_n: int = 0,
    fixed_truncation: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Complex backscattering amplitude f_bs (m) at each frequency (Hz).

    Returns (f_bs, ok); ok[i] is False where convergence or accuracy was not reached
    (f_bs is NaN there).  ``extra_m``/``extra_n`` raise the truncation (convergence tests).
    ``fixed_truncation = (m_max, n_max)`` switches the adaptive rule off and sums exactly
    m = 0..m_max, n = m..n_max (used only to reproduce under-truncated published values).
    """
    from .solver import new_state, spectrum_block

    if boundary not in BOUNDARIES:
        raise InvalidParameterError(f"unknown boundary {boundary!r}")
    m_fix, n_fix = fixed_truncation if fixed_truncation is not None else (-1, -1)
    freqs = np.ascontiguousarray(frequency, dtype=float)
    nf = freqs.shape[0]
    out = np.empty(nf, dtype=np.complex128)
    ok = np.ones(nf, dtype=np.bool_)
    h0c, h1c, h0, h1, h0n, h1n, h0s, h1s, nh, pc, dpc, plen = new_state()
    args = (
        float(a),
        float(b),
        float(theta_deg),
        float(rho_s / rho_w),
        float(c_s / c_w),
        float(c_w),
        BOUNDARIES[boundary],
        int(extra_m),
        int(extra_n),
        int(m_fix),
        int(n_fix),
    )
    # in blocks of frequencies that take about BLOCK_SECONDS each: between blocks Ctrl-C
    # and SIGTERM are seen (compiled code holds the interpreter); the warm-start state
    # carries over, so the values are those of one call on all frequencies, bit for bit
    i, size = 0, 4
    while i < nf:
        check_interrupt()
        stop = min(i + size, nf)
        t0 = time.perf_counter()
        pc, dpc, plen = spectrum_block(
            freqs, i, stop, out, ok, *args, h0c, h1c, h0, h1, h0n, h1n, h0s, h1s, nh, pc, dpc, plen
        )
        elapsed = time.perf_counter() - t0
        i = stop
        if elapsed < BLOCK_SECONDS / 2:
            size = min(size * 2, MAX_BLOCK)
        elif elapsed > BLOCK_SECONDS * 2 and size > 1:
            size //= 2
    check_interrupt()
    return out, ok


class ProlateSpheroid(Simulator):
    """Exact modal-series TS of a homogeneous prolate spheroid (fluid, rigid or PR)."""

    name: ClassVar[str] = "prolate-spheroid"
    version: ClassVar[str] = "1.0.0"
    kinds: ClassVar[tuple[str, ...]] = ("gas", "liquid")
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "a": ParameterSpec("m", 1e-6, 10.0, "semi-major axis"),
        "b": ParameterSpec("m", 1e-6, 10.0, "semi-minor axis (b < a)"),
        "theta": ParameterSpec(
            "deg", 0.0, 90.0, "incidence angle to the major axis (90 = broadside)"
        ),
        "rho_s": ParameterSpec(
            "kg/m3", 1e-3, 1e5, "density of the interior (ignored unless fluid)", 1027.0
        ),
        "c_s": ParameterSpec(
            "m/s", 1.0, 1e5, "sound speed of the interior (ignored unless fluid)", 1500.0
        ),
        "rho_w": ParameterSpec("kg/m3", 1e-3, 1e5, "density of the water", 1027.0),
        "c_w": ParameterSpec("m/s", 1.0, 1e5, "sound speed of the water", 1500.0),
    }
    settings: ClassVar[dict[str, str]] = {"boundary": "fluid"}

    def _ts(
        self,
        frequency: np.ndarray,
        *,
        boundary: str,
        a: np.ndarray,
        b: np.ndarray,
        theta: np.ndarray,
        rho_s: np.ndarray,
        c_s: np.ndarray,
        rho_w: np.ndarray,
        c_w: np.ndarray,
    ) -> np.ndarray:
        """TS (dB re 1 m^2) at ``frequency`` (Hz) of each target: a, b (m, a > b), theta
        (deg, 0..90), rho_s (kg/m3), c_s (m/s), rho_w, c_w; ``boundary`` in {"fluid",
        "rigid", "pressure-release"}. For the fluid boundary rho_s and c_s should be given
        explicitly (their defaults are water-like)."""
        if boundary not in BOUNDARIES:
            raise InvalidParameterError(
                f"boundary must be one of {sorted(BOUNDARIES)}, got {boundary!r}"
            )
        if np.any(a <= b):
            i = int(np.argmax(a <= b))
            raise InvalidParameterError(
                f"parameter 'a' must exceed 'b' (prolate spheroid); got a={a[i]:g} m, b={b[i]:g} m"
            )
        out = np.empty((a.shape[0], frequency.shape[0]))
        for t in range(a.shape[0]):
            fbs, ok = backscatter_amplitude(
                frequency,
                float(a[t]),
                float(b[t]),
                float(theta[t]),
                float(rho_s[t]),
                float(c_s[t]),
                float(rho_w[t]),
                float(c_w[t]),
                boundary,
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                out[t] = 20.0 * np.log10(np.abs(fbs))
            if not np.all(ok):
                bad = frequency[~ok]
                warnings.warn(
                    f"prolate-spheroid: series not converged at {bad.size} frequencies "
                    f"({bad[0]:g} Hz ...) for a={a[t]:g} m, b={b[t]:g} m, "
                    f"theta={theta[t]:g} deg, rho_s={rho_s[t]:g}, "
                    f"c_s={c_s[t]:g}, boundary={boundary}; TS set to NaN there",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return out
