"""The transceiver's digital filter stages: convolution then decimation, stage by stage.

An EK80 file stores, per channel, the complex FIR coefficients and decimation factor of
each stage (a WBT stage and a pulse-compression stage, FIL1 datagrams). The recorded
complex samples passed through them; the matched filter must too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FilterStage:
    """One FIR stage: complex coefficients (complex64 as a file stores them, else
    complex128) and an integer decimation factor."""

    coefficients: np.ndarray
    decimation: int

    def __post_init__(self) -> None:
        coefficients = np.asarray(self.coefficients)
        if coefficients.dtype != np.complex64:  # complex64 (as stored in a file) stays exact
            coefficients = coefficients.astype(complex)
        object.__setattr__(self, "coefficients", coefficients)
        if int(self.decimation) < 1:
            raise ValueError(f"decimation factor must be >= 1, got {self.decimation}")
        object.__setattr__(self, "decimation", int(self.decimation))


def apply_stages(
    signal: npt.ArrayLike, stages: Sequence[FilterStage], axis: int = -1
) -> np.ndarray:
    """Filter (full convolution) and decimate ``signal`` through ``stages`` in order, along
    ``axis`` (overlap-add convolution: fast for the long records of a synthetic ping)."""
    from scipy import signal as sps

    y = np.asarray(signal)
    for stage in stages:
        shape = [1] * y.ndim
        shape[axis] = stage.coefficients.size
        y = sps.oaconvolve(y, stage.coefficients.reshape(shape), mode="full", axes=axis)
        y = np.take(y, np.arange(0, y.shape[axis], stage.decimation), axis=axis)
    return np.asarray(y, dtype=complex)


def decimated_rate(fs: float, stages: Sequence[FilterStage]) -> float:
    """Sampling rate (Hz) after all stages, from the base rate ``fs`` (Hz)."""
    total = int(np.prod([s.decimation for s in stages])) if stages else 1
    return fs / total
