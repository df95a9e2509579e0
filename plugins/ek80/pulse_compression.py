"""Matched filter, pulse compression per sector, autocorrelation and sector average.

Notation follows Andersen et al. (2024): ``y_mf`` is the ideal transmit chirp passed
through the file's filter stages (the matched-filter replica, at the recorded sample
rate); pulse compression correlates each sector's samples with it and normalises by
``||y_mf||²`` so that an echo that is a scaled, delayed copy of ``y_mf`` compresses to a
peak equal to that scale factor, at the sample of the echo's delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .calibration import impedance_factor
from .chirp import ideal_chirp
from .filters import FilterStage, apply_stages, decimated_rate


def matched_filter(
    f_start: float,
    f_stop: float,
    duration: float,
    slope: float,
    fs: float,
    stages: Sequence[FilterStage],
) -> tuple[np.ndarray, float]:
    """The matched-filter replica ``y_mf`` and its sampling rate (Hz).

    The ideal chirp (see :func:`ideal_chirp`) at the base rate ``fs`` (Hz), through
    ``stages``.
    """
    y_tx = ideal_chirp(f_start, f_stop, duration, slope, fs)
    return apply_stages(y_tx, stages), decimated_rate(fs, stages)


def pulse_compress(samples: npt.ArrayLike, y_mf: np.ndarray) -> np.ndarray:
    """Pulse-compress complex samples (..., n_sample) with the replica ``y_mf``.

    Output has the input's shape; sample ``n`` is the correlation at lag ``n`` (the
    echo delay in samples), normalised by ``||y_mf||²``. NaN parts count as 0
    (:func:`numpy.nan_to_num`). The FFT convolution of :func:`scipy.signal.fftconvolve`,
    with the replica's transform computed once per transform length.
    """
    from scipy import fft as sp_fft

    x = np.asarray(samples, dtype=complex)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x)
    n, m = x.shape[-1], len(y_mf)
    nfft = sp_fft.next_fast_len(n + m - 1, True)
    spectrum = _replica_spectrum(np.asarray(y_mf, dtype=complex).tobytes(), nfft)
    product = sp_fft.fft(x, nfft, axis=-1)
    product *= spectrum  # in place: one array fewer per ping
    full = sp_fft.ifft(product, nfft, axis=-1, overwrite_x=True)
    return full[..., m - 1 : m - 1 + n]


@lru_cache(maxsize=32)
def _replica_spectrum(y_mf: bytes, nfft: int) -> np.ndarray:
    """The ``nfft``-point FFT of the correlation kernel ``conj(y_mf[::-1]) / ||y_mf||²``
    (``y_mf``: the bytes of a complex128 array); read-only."""
    from scipy import fft as sp_fft

    y = np.frombuffer(y_mf, dtype=complex)
    kernel = np.conj(y[::-1]) / np.vdot(y, y).real
    spectrum = sp_fft.fft(kernel, nfft)
    spectrum.flags.writeable = False
    return spectrum


def autocorrelation(y_mf: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of ``y_mf`` (peak 1 at index ``len(y_mf) - 1``)."""
    return np.convolve(y_mf, np.conj(y_mf[::-1])) / np.vdot(y_mf, y_mf).real


def effective_pulse_duration(y_auto: np.ndarray, fs_dec: float) -> float:
    """Effective pulse duration (s) of the compressed pulse: sum |auto|² / (max |auto|² fs)."""
    p = np.abs(y_auto) ** 2
    return float(p.sum() / (p.max() * fs_dec))


def sector_average(y_pc: np.ndarray) -> np.ndarray:
    """Mean over sectors (axis 0) of pulse-compressed samples (n_sector, n_sample)."""
    return np.mean(y_pc, axis=0)


def received_power(
    y: np.ndarray, n_sectors: int, z_transducer: float, z_receiver: float
) -> np.ndarray:
    """Received electrical power (W) from sector-averaged complex samples (V).

    ``P = N_u |y|² / (2√2)² · |z_rx + z_td|² / z_rx² / |z_td|`` (Andersen et al. 2024);
    impedances in ohm.
    """
    return n_sectors * np.abs(y) ** 2 / 8.0 * impedance_factor(z_transducer, z_receiver)
