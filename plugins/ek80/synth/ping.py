"""Synthetic pings as arrays (no file): point targets of known TS(f), range and angles.

For unit tests of the processing chain (:mod:`..core`) with any calibration, filter
stages and 3- or 4-sector transducers, synthesised directly at the decimated rate: for
each target the chain's own matched-filter replica spectrum is scaled per frequency by
:func:`.echo.point_echo_amplitude` (the inverse of the TS(f) equation), delayed by the
two-way travel time, given per-sector phases for the split-beam angles (scaled so the
sector average carries the beam pattern), and summed over targets. The survey writer
(:mod:`.echo`, :mod:`.survey`) instead synthesises at the transceiver's base rate through
its own transmit signal and filters, independently of the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..angles import beam_compensation, sector_phases
from ..calibration import Calibration, impedance_factor
from ..core import ChannelPing, Replica
from ..environment import Environment
from ..filters import FilterStage
from .echo import point_echo_amplitude


@dataclass(frozen=True)
class PointTarget:
    """A point target: range (m), raw physical angles (deg, before offsets) and TS —
    a number (dB, flat) or a function of frequency (Hz) returning dB."""

    range: float
    ts: float | Callable[[np.ndarray], np.ndarray]
    angle_along: float = 0.0
    angle_athwart: float = 0.0

    def ts_at(self, f: np.ndarray) -> np.ndarray:
        return self.ts(f) if callable(self.ts) else np.full(f.shape, float(self.ts))


def lowpass_stages(
    fs: float, decimations: Sequence[int], f_centre: float, bandwidth: float, n_taps: int = 101
) -> list[FilterStage]:
    """Simple complex band-pass FIR stages (windowed sinc shifted to ``f_centre``, Hz)
    standing in for a transceiver's filters in synthetic tests."""
    stages = []
    rate = fs
    for d in decimations:
        n = np.arange(n_taps) - (n_taps - 1) / 2
        cutoff = min(bandwidth / 2 * 1.3, rate / 2 * 0.95) / rate
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(n_taps)
        h = h * np.exp(2j * np.pi * f_centre / rate * n)
        stages.append(FilterStage(h, d))
        rate /= d
    return stages


def synthetic_ping(
    targets: Sequence[PointTarget],
    *,
    f_start: float = 90e3,
    f_stop: float = 170e3,
    duration: float = 1.024e-3,
    slope: float = 0.1,
    fs: float = 1.5e6,
    stages: Sequence[FilterStage] | None = None,
    n_samples: int = 2000,
    beam_type: int = 1,
    calibration: Calibration | None = None,
    environment: Environment | None = None,
    transmit_power: float = 1000.0,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> ChannelPing:
    """A :class:`ChannelPing` containing ``targets`` (and complex Gaussian noise of rms
    ``noise`` V per sector if given, drawn from ``rng``)."""
    f_c = 0.5 * (f_start + f_stop)
    stages = (
        list(stages)
        if stages is not None
        else lowpass_stages(fs, (12, 1), f_c, abs(f_stop - f_start))
    )
    dt = float(np.prod([s.decimation for s in stages])) / fs
    cal = calibration or Calibration(
        frequency_nominal=f_c,
        gain=27.0,
        beamwidth_along=7.0,
        beamwidth_athwart=7.0,
        sensitivity_along=23.0,
        sensitivity_athwart=23.0,
        z_transducer=75.0,
        z_receiver=5400.0,
    )
    env = environment or Environment(
        sound_speed=1485.0, temperature=10.0, salinity=33.0, depth=10.0
    )
    n_sectors = {1: 4, 17: 3}.get(beam_type, 1)
    ping = ChannelPing(
        np.zeros((n_sectors, n_samples), complex),
        dt,
        f_start,
        f_stop,
        duration,
        slope,
        transmit_power,
        fs,
        stages,
        beam_type,
        cal,
        env,
    )
    replica = Replica.build(ping)
    n_fft = int(2 ** np.ceil(np.log2(n_samples + 2 * len(replica.y_mf))))
    spec_mf = np.fft.fft(replica.y_mf, n_fft)
    fs_dec = 1.0 / dt
    f_base = np.fft.fftfreq(n_fft, dt)
    f_true = f_c + np.mod(f_base - f_c + fs_dec / 2, fs_dec) - fs_dec / 2
    f_true = np.maximum(f_true, 1.0)
    c = env.c
    imp = impedance_factor(cal.z_transducer, cal.z_receiver)
    gain_db = cal.gain_db(f_true)
    total = np.zeros((n_sectors, n_fft), complex)
    for t in targets:
        ts = t.ts_at(f_true)
        if n_sectors > 1:
            bw_al, bw_at = cal.beamwidths(f_true)
            off_al, off_at = cal.offsets(f_true)
            b = beam_compensation(t.angle_along, t.angle_athwart, bw_al, bw_at, off_al, off_at)
            phases = sector_phases(
                t.angle_along,
                t.angle_athwart,
                cal.sensitivity_along,
                cal.sensitivity_athwart,
                f_true,
                cal.frequency_nominal,
                beam_type,
            )
        else:
            b = np.zeros_like(f_true)
            phases = np.zeros((1, n_fft))
        amp = point_echo_amplitude(
            ts, t.range, f_true, gain_db, b, transmit_power, env, n_sectors, imp
        )
        rotors = np.exp(1j * phases)
        amp = amp / np.abs(rotors.mean(axis=0))
        delay = np.exp(-2j * np.pi * f_true * 2 * t.range / c)
        total += spec_mf * amp * delay * rotors
    samples = np.fft.ifft(total, axis=1)[:, :n_samples]
    if noise > 0:
        rng = rng or np.random.default_rng(0)
        samples = samples + noise / np.sqrt(2) * (
            rng.standard_normal(samples.shape) + 1j * rng.standard_normal(samples.shape)
        )
    ping.samples = samples
    return ping


def flat(ts_db: float) -> Callable[[npt.ArrayLike], np.ndarray]:
    """A flat TS(f) of ``ts_db`` dB."""
    return lambda f: np.full(np.shape(f), float(ts_db))
