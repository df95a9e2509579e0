"""The ideal EK80 FM transmit signal and the receiver's digital filter stages.

Transmit signal (Andersen et al. 2024, Methods Ecol. Evol. 15:317): a unit-amplitude
linear chirp ``cos(2π (f0 t + (f1 − f0) t² / (2τ)))`` from ``f0`` to ``f1`` over the
nominal pulse duration ``τ``, sampled at the transceiver's base rate ``fs`` (1.5 MHz for a
WBT), ``floor(τ fs)`` samples; its ends are tapered by the rising and falling halves of a
Hann window of ``round(2 · slope · τ · fs)`` samples (the falling half keeps its final zero,
as echopype does), and the result is normalised to a maximum of 1.

Receiver filters: two complex FIR stages, each followed by decimation (stage 1 at ``fs``,
stage 2 at ``fs / D1``), written to the file as FIL1 datagrams. Each stage is a Kaiser-
windowed (β = 8) low-pass shifted to the band centre, so it passes the positive-frequency
band of the chirp and rejects the rest (a complex band-pass; the recorded samples are the
analytic signal aliased into the decimated band). The cut-off lies half way between the
chirp's half-bandwidth and the Nyquist frequency after the stage's decimation; the number
of taps is ``6 fs_in / transition`` rounded up to an odd number.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ts_toolkit.errors import InvalidParameterError

from ..filters import FilterStage


def tapered_chirp(
    f_start: float, f_stop: float, duration: float, slope: float, fs: float
) -> np.ndarray:
    """The ideal tapered transmit chirp (real, max 1) at ``fs`` (Hz); see module docstring.

    Frequencies in Hz, ``duration`` in s, ``slope`` dimensionless (taper fraction).
    """
    n = int(np.floor(duration * fs))
    if n < 4:
        raise InvalidParameterError(f"pulse duration {duration:g} s is too short at {fs:g} Hz")
    t = np.arange(n) / fs
    y = np.cos(2 * np.pi * (f_start * t + 0.5 * (f_stop - f_start) / duration * t * t))
    n_win = int(np.round(2.0 * slope * duration * fs))
    if n_win >= 2:
        win = np.hanning(n_win)
        half = n_win // 2
        rise, fall = win[:half], win[half:]
        y[: rise.size] *= rise
        y[n - fall.size :] *= fall
    return y / np.max(y)


def design_stage(centre: float, half_band: float, fs_in: float, decimation: int) -> FilterStage:
    """A complex band-pass FIR stage centred on ``centre`` (Hz) at input rate ``fs_in`` (Hz),
    passing ``centre ± half_band`` (Hz) ahead of decimation by ``decimation``."""
    nyquist_out = fs_in / decimation / 2.0
    if half_band >= nyquist_out:
        raise InvalidParameterError(
            f"band ±{half_band / 1e3:g} kHz does not fit the decimated rate "
            f"{2 * nyquist_out / 1e3:g} kHz"
        )
    cutoff = 0.5 * (half_band + nyquist_out)
    transition = nyquist_out - half_band
    n_taps = int(np.ceil(6.0 * fs_in / transition)) | 1
    lowpass = signal.firwin(n_taps, cutoff, window=("kaiser", 8.0), fs=fs_in)
    n = np.arange(n_taps) - (n_taps - 1) / 2.0
    coeffs = lowpass * np.exp(2j * np.pi * centre * n / fs_in)
    return FilterStage(coeffs.astype(np.complex64), int(decimation))


def design_stages(
    f_start: float, f_stop: float, fs: float, decimation: tuple[int, int]
) -> tuple[FilterStage, FilterStage]:
    """Stage 1 (at ``fs``) and stage 2 (at ``fs / D1``) filters for a chirp band (Hz)."""
    d1, d2 = decimation
    centre = 0.5 * (f_start + f_stop)
    half = 0.5 * abs(f_stop - f_start)
    stage2 = design_stage(centre, half, fs / d1, d2)
    # stage 1 must pass what stage 2 passes: its half band is stage 2's cut-off
    nyq2 = fs / d1 / d2 / 2.0
    stage1 = design_stage(centre, 0.5 * (half + nyq2), fs, d1)
    return stage1, stage2
