"""The ideal transmit signal of an EK80 FM ping: a linear chirp with Hann-tapered ends.

Follows the description in Andersen et al. (2024, Methods Ecol. Evol. 15:317), section
"transmit signal": a unit-amplitude linear frequency-modulated cosine from ``f_start`` to
``f_stop`` over the nominal pulse duration, sampled at the transceiver's base rate, whose
first and last ``slope * duration`` seconds are shaped by the two halves of a Hann window.
"""

from __future__ import annotations

import numpy as np


def hann_taper(n_samples: int, n_taper: int) -> np.ndarray:
    """Amplitude taper of length ``n_samples``: 1 in the middle, Hann halves at the ends.

    ``n_taper`` is the length of the full Hann window whose rising half starts the
    signal and whose falling half ends it (samples).
    """
    taper = np.ones(n_samples)
    if n_taper < 2:
        return taper
    window = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(n_taper) / (n_taper - 1)))
    half = n_taper // 2
    rise, fall = window[:half], window[half:]
    rise = rise[:n_samples]
    fall = fall[-min(len(fall), n_samples) :]
    taper[: len(rise)] *= rise
    taper[n_samples - len(fall) :] *= fall
    return taper


def ideal_chirp(
    f_start: float, f_stop: float, duration: float, slope: float, fs: float
) -> np.ndarray:
    """The ideal tapered transmit chirp, normalised to a maximum of 1.

    Parameters
    ----------
    f_start, f_stop : start and stop frequency (Hz).
    duration : nominal pulse duration (s).
    slope : taper fraction; the Hann window spans ``2 * slope * duration`` (dimensionless).
    fs : base sampling rate of the transceiver (Hz), e.g. 1.5 MHz for a WBT.

    Returns
    -------
    Real samples at ``fs`` (length ``floor(duration * fs)``).
    """
    n = int(np.floor(duration * fs))
    if n < 2:
        raise ValueError(f"pulse of {duration} s at {fs} Hz has fewer than 2 samples")
    t = np.arange(n) / fs
    phase = np.pi * (f_stop - f_start) / duration * t**2 + 2.0 * np.pi * f_start * t
    y = np.cos(phase) * hann_taper(n, int(np.round(duration * fs * slope * 2.0)))
    return y / np.max(np.abs(y))
