"""TS(f) of one detected target (Andersen et al. 2024, "TS(f)" section).

A window of the sector-averaged, pulse-compressed signal centred on the target's peak
sample and the same window of the compressed transmit pulse (the matched-filter
autocorrelation, centred on its peak) are Fourier transformed (DTFT evaluated directly at
the requested frequencies, so the aliasing of the decimated band is handled exactly);
their ratio is the target's normalised spectrum. Then

``TS(f) = 10 log10 P_rx(f) + 40 log10 r + 2 α(f) r − 10 log10(P_tx λ(f)² g(f)² /
(16 π²)) + B(θ, φ, f)``

with ``P_rx(f) = N_u |Y(f)/Y_auto(f)|² / 8 · |z_rx + z_td|² / z_rx² / |z_td|``, gain
``g(f)`` and beam widths/offsets from the calibration, and ``B`` the two-way beam
compensation at the target's angles (0 for single-beam channels).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .angles import beam_compensation
from .calibration import Calibration
from .environment import Environment
from .pulse_compression import received_power


def dtft(x: np.ndarray, frequency: np.ndarray, dt: float, k: np.ndarray) -> np.ndarray:
    """``Σ x[j] exp(-i 2π f k[j] dt)`` for each ``f`` in ``frequency`` (Hz)."""
    return np.exp(-2j * np.pi * np.outer(frequency, k * dt)) @ x


@lru_cache(maxsize=64)
def _kernel(frequency: bytes, dt: float, left: int, right: int) -> np.ndarray:
    """The DTFT matrix ``exp(-i 2π f k dt)`` (frequency, k) for ``k = -left … right``
    (``frequency``: the bytes of a float64 array in Hz). A survey's targets share a few
    (grid, sample interval, window) combinations, so each matrix is built once."""
    k = np.arange(-left, right + 1)
    kernel = np.exp(-2j * np.pi * np.outer(np.frombuffer(frequency), k * dt))
    kernel.flags.writeable = False
    return kernel


def window_spectrum(
    y: np.ndarray,
    peak: int,
    y_auto: np.ndarray,
    half_width: int,
    frequency: np.ndarray,
    dt: float,
) -> np.ndarray:
    """``Y(f) / Y_auto(f)`` for the ``2 half_width + 1`` samples centred on ``peak`` (the
    window is shortened where the ping or the pulse ends). ``y`` may be 2-D (sector,
    sample): the result is then per sector."""
    auto_peak = int(np.argmax(np.abs(y_auto)))
    left = min(half_width, peak, auto_peak)
    right = min(half_width, y.shape[-1] - 1 - peak, len(y_auto) - 1 - auto_peak)
    kernel = _kernel(np.asarray(frequency, dtype=float).tobytes(), float(dt), left, right)
    num = (kernel @ y[..., peak - left : peak + right + 1].T).T
    den = kernel @ y_auto[auto_peak - left : auto_peak + right + 1]
    return num / den


def target_ts(
    normalised_spectrum: np.ndarray,
    frequency: npt.ArrayLike,
    target_range: float,
    angle_along: float | None,
    angle_athwart: float | None,
    calibration: Calibration,
    n_sectors: int,
    transmit_power: float,
    environment: Environment,
) -> tuple[np.ndarray, np.ndarray]:
    """TS(f) (dB re 1 m²) and the two-way beam compensation B(f) (dB) applied.

    ``angle_along``/``angle_athwart`` (deg) are the physical angles before offsets (None
    for single beam); range in m; power in W.
    """
    f = np.asarray(frequency, float)
    p_rx = received_power(
        normalised_spectrum, n_sectors, calibration.z_transducer, calibration.z_receiver
    )
    wavelength = environment.c / f
    gain = 10 ** (calibration.gain_db(f) / 10)
    alpha = environment.absorption(f)
    if angle_along is None or angle_athwart is None:
        comp = np.zeros_like(f)
    else:
        bw_al, bw_at = calibration.beamwidths(f)
        off_al, off_at = calibration.offsets(f)
        comp = beam_compensation(angle_along, angle_athwart, bw_al, bw_at, off_al, off_at)
    with np.errstate(divide="ignore"):
        ts = (
            10 * np.log10(p_rx)
            + 40 * np.log10(target_range)
            + 2 * alpha * target_range
            - 10 * np.log10(transmit_power * wavelength**2 * gain**2 / (16 * np.pi**2))
            + comp
        )
    ts = np.where(np.isfinite(ts), ts, np.nan)
    return ts, comp
