"""Split-beam angles from pulse-compressed sector signals, and beam compensation.

Sector order follows the EK80 / echopype convention:

- 4 sectors (beam_type 1): 0 aft-starboard, 1 aft-port, 2 fore-port, 3 fore-starboard.
- 3 sectors (beam_type 17): 0 starboard-aft, 1 port-aft, 2 fore; with a centre element
  (beam_type 49, 65, 81) a 4th, central sector is averaged into each.

The electrical phase difference between transducer halves, ``Δφ`` (rad), relates to the
physical angle by ``sin θ = Δφ / γ(f)`` with ``γ(f) = γ_nom · f / f_nom`` and ``γ_nom``
the file's angle sensitivity (electrical degree per degree); ``γ`` is evaluated at the
channel's centre frequency (Andersen et al. 2024).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FOUR_SECTOR = (1,)
THREE_SECTOR = (17, 49, 65, 81)
SINGLE_BEAM = (0,)


def electrical_phase(y_pc: np.ndarray, beam_type: int) -> tuple[np.ndarray, np.ndarray]:
    """Alongship and athwartship electrical phase differences (rad) per sample.

    ``y_pc``: pulse-compressed complex samples (n_sector, n_sample).
    """
    if beam_type in FOUR_SECTOR:
        # the halves' means without the factor 1/2: scaling both factors of a product by a
        # power of two scales its real and imaginary parts exactly, so the angle is the
        # same to the last bit (tests/test_ek80_throughput.py), with four passes fewer
        fore = y_pc[2] + y_pc[3]
        aft = y_pc[0] + y_pc[1]
        star = y_pc[0] + y_pc[3]
        port = y_pc[1] + y_pc[2]
        fore *= np.conj(aft)
        star *= np.conj(port)
        return np.angle(fore), np.angle(star)
    if beam_type in THREE_SECTOR:
        if beam_type == 17:
            star, port, fore = y_pc[0], y_pc[1], y_pc[2]
        else:
            centre = y_pc[3]
            star, port, fore = (0.5 * (y_pc[i] + centre) for i in range(3))
        fac1 = np.angle(fore * np.conj(star))
        fac2 = np.angle(fore * np.conj(port))
        return (fac1 + fac2) / np.sqrt(3.0), fac2 - fac1
    raise ValueError(f"beam type {beam_type} is not a split-beam type this plugin supports")


def physical_angles(
    phase_along: np.ndarray,
    phase_athwart: np.ndarray,
    sensitivity_along: float,
    sensitivity_athwart: float,
    frequency: float,
    frequency_nominal: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Physical angles (deg) from electrical phase differences (rad).

    Angle sensitivities in electrical degree per degree at ``frequency_nominal`` (Hz),
    scaled to ``frequency`` (Hz). No offsets are removed here.
    """
    scale = frequency / frequency_nominal
    s_al = np.clip(phase_along / (sensitivity_along * scale), -1.0, 1.0)
    s_at = np.clip(phase_athwart / (sensitivity_athwart * scale), -1.0, 1.0)
    return np.degrees(np.arcsin(s_al)), np.degrees(np.arcsin(s_at))


def sector_phases(
    angle_along: float,
    angle_athwart: float,
    sensitivity_along: float,
    sensitivity_athwart: float,
    frequency: npt.ArrayLike,
    frequency_nominal: float,
    beam_type: int,
) -> np.ndarray:
    """Per-sector phases (rad, shape (n_sector, n_freq)) that a point target at the given
    physical angles (deg) produces: the inverse of :func:`electrical_phase` (synthetic
    echoes, tests)."""
    f = np.atleast_1d(np.asarray(frequency, float))
    d_al = sensitivity_along * f / frequency_nominal * np.sin(np.radians(angle_along))
    d_at = sensitivity_athwart * f / frequency_nominal * np.sin(np.radians(angle_athwart))
    if beam_type in FOUR_SECTOR:
        signs_al = np.array([-0.5, -0.5, 0.5, 0.5])[:, None]
        signs_at = np.array([0.5, -0.5, -0.5, 0.5])[:, None]
        return signs_al * d_al + signs_at * d_at
    if beam_type == 17:
        fac1 = (np.sqrt(3.0) * d_al - d_at) / 2.0
        fac2 = (np.sqrt(3.0) * d_al + d_at) / 2.0
        return np.stack([-fac1, -fac2, np.zeros_like(f)])
    raise ValueError(f"beam type {beam_type}: synthetic sector phases not implemented")


def beam_compensation(
    angle_along: npt.ArrayLike,
    angle_athwart: npt.ArrayLike,
    beamwidth_along: npt.ArrayLike,
    beamwidth_athwart: npt.ArrayLike,
    offset_along: npt.ArrayLike = 0.0,
    offset_athwart: npt.ArrayLike = 0.0,
) -> np.ndarray:
    """Two-way beam compensation (dB) of the Simrad beam model.

    ``B = 6.0206 (x² + y² − 0.18 x² y²)`` with ``x = 2(θ − θ₀)/BW_al``, ``y = 2(φ −
    φ₀)/BW_at``; beam widths are the one-way −3 dB full widths (deg), angles and offsets
    in degrees. All arguments broadcast (e.g. angles scalar, widths per frequency).
    """
    x = 2.0 * (np.asarray(angle_along) - np.asarray(offset_along)) / np.asarray(beamwidth_along)
    y = (
        2.0
        * (np.asarray(angle_athwart) - np.asarray(offset_athwart))
        / np.asarray(beamwidth_athwart)
    )
    x2, y2 = x * x, y * y
    return 6.0206 * (x2 + y2 - 0.18 * x2 * y2)


def spectral_angles(
    sector_spectra: np.ndarray,
    beam_type: int,
    sensitivity_along: float,
    sensitivity_athwart: float,
    frequency: np.ndarray,
    frequency_nominal: float,
) -> tuple[float, float]:
    """Target angles (deg, before offsets) from per-sector spectra (n_sector, n_freq).

    The split-beam phase differences are taken per frequency, converted with the angle
    sensitivity scaled to each frequency, and averaged with the sector-sum power as
    weight. Unlike the time-domain angle at the centre frequency, this is unbiased when
    the echo spectrum is not symmetric about the centre frequency.
    """
    ph_al, ph_at = electrical_phase(sector_spectra, beam_type)
    scale = frequency / frequency_nominal
    al = np.degrees(np.arcsin(np.clip(ph_al / (sensitivity_along * scale), -1, 1)))
    at = np.degrees(np.arcsin(np.clip(ph_at / (sensitivity_athwart * scale), -1, 1)))
    w = np.abs(sector_spectra.mean(axis=0)) ** 2
    if not np.isfinite(w).all() or w.sum() <= 0:
        w = np.ones_like(w)
    return float(np.sum(w * al) / w.sum()), float(np.sum(w * at) / w.sum())
