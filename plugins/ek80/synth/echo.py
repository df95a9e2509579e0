"""Synthesis of the complex sector samples of one channel and ping.

Signal model (details and conventions in docs/synthetic.md):

1. The ideal tapered chirp ``y_tx`` (:mod:`.transmit`) at the base rate ``fs``.
2. Each target adds, at the transceiver input of sector ``k``, the real signal whose
   spectrum (f > 0) is ``Y_tx(f) · A(f) · exp(iψ_k(f)) / M(f) · exp(−i 2π f t0)`` with
   ``t0 = 2 r / c`` (the two-way travel time to the target's range ``r``),
   ``ψ_k(f)`` the split-beam phase of sector ``k`` (angles and angle sensitivity),
   ``M(f) = |mean_k exp(iψ_k(f))|`` (so that the sector average has modulus ``A``), and
   ``A(f) = sqrt(8 / (N_u K_z) · P_tx λ² g(f)² σ_bs(f) / (16 π² r⁴)
   · 10^(−2 α(f) r / 10) · 10^(−B(θ, φ, f) / 10))`` — the inverse of the EK80 TS(f)
   equation of Andersen et al. (2024), with ``K_z = |z_rx + z_td|² / z_rx² / z_td``,
   ``σ_bs = 10^(TS/10)``, gain ``g(f) = 10^(G(f)/10)``, absorption ``α(f)`` (dB/m,
   Francois–Garrison) and the two-way beam-pattern loss ``B`` (dB, Simrad beam model).
   The target's phase is zero (default) or minimum phase.
3. The sum passes the receiver's filter stages and decimations (:mod:`.transmit`) — the
   recorded samples.
4. Complex white Gaussian receiver noise is added to the recorded samples, with
   per-sector variance ``σ² = 8 · 10^(noise_db/10) / K_z`` so that the EK80 power formula
   ``P = N_u |mean_k u_k|² / 8 · K_z`` of the raw (not pulse-compressed) noise averages
   ``10^(noise_db/10)`` W.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from ts_toolkit.errors import InvalidParameterError

from ..angles import FOUR_SECTOR, beam_compensation
from ..angles import sector_phases as angle_phases
from ..calibration import impedance_factor as power_impedance_factor
from ..environment import Environment
from ..filters import FilterStage, apply_stages
from .settings import ChannelSettings
from .transmit import design_stages, tapered_chirp

PHASES = ("zero", "minimum")


@dataclass(frozen=True)
class EchoTarget:
    """A point target for one ping: range (m), split-beam angles (deg; + fore, + starboard)
    and its TS (dB re 1 m²) on ``frequency`` (Hz, increasing; interpolated linearly in dB,
    held constant beyond the ends)."""

    range: float
    angle_along: float
    angle_athwart: float
    frequency: np.ndarray
    ts: np.ndarray


def impedance_factor(ch: ChannelSettings) -> float:
    """``K_z = |z_rx + z_td|² / z_rx² / z_td`` (1/ohm) of the EK80 power formula."""
    return power_impedance_factor(ch.z_transducer, ch.z_receiver)


def sector_phases(
    ch: ChannelSettings, angle_along: float, angle_athwart: float, frequency: np.ndarray
) -> np.ndarray:
    """Split-beam phase (rad) of each sector of ``ch`` (4 sectors), shape (n_sector, n_freq),
    for a target at physical angles (deg) before the channel's angle offsets: the offsets
    are added, so a reader that subtracts them gets the angles back."""
    if ch.n_sectors != 4:
        raise InvalidParameterError("synthetic split-beam phases need a 4-sector channel")
    m = ch.model
    return angle_phases(
        angle_along + ch.offset_along,
        angle_athwart + ch.offset_athwart,
        m.angle_sensitivity,
        m.angle_sensitivity,
        frequency,
        m.frequency_nominal,
        FOUR_SECTOR[0],
    )


def echo_amplitude(
    ch: ChannelSettings, env: Environment, target: EchoTarget, frequency: np.ndarray
) -> np.ndarray:
    """``A(f)``: modulus of the sector-averaged echo spectrum relative to the transmit
    replica (the EK80 "voltage" whose power formula gives P_rx), at ``frequency`` (Hz)."""
    f = np.asarray(frequency, float)
    bw = ch.model.beamwidths(f)
    return point_echo_amplitude(
        np.interp(f, target.frequency, target.ts),
        target.range,
        f,
        ch.model.gain_db(f),
        beam_compensation(target.angle_along, target.angle_athwart, bw, bw),
        ch.model.transmit_power,
        env,
        ch.n_sectors,
        impedance_factor(ch),
    )


def point_echo_amplitude(
    ts_db: np.ndarray,
    target_range: float,
    frequency: np.ndarray,
    gain_db: np.ndarray,
    beam_loss_db: np.ndarray,
    transmit_power: float,
    env: Environment,
    n_sectors: int,
    impedance: float,
) -> np.ndarray:
    """The inverse of the EK80 TS(f) equation: the modulus of the sector-averaged echo
    spectrum (V, relative to the transmit replica) of a point target of TS ``ts_db`` (dB re
    1 m²) at ``target_range`` (m), with on-axis gain ``gain_db`` and two-way beam-pattern
    loss ``beam_loss_db`` (dB) at ``frequency`` (Hz), transmit power (W), the water
    ``env`` (sound speed, absorption), ``n_sectors`` and the impedance factor ``K_z``::

        A = sqrt(8 / (N_u K_z) · P_tx λ² g² σ_bs / (16 π² r⁴) · 10^(−2 α r / 10) · 10^(−B / 10))
    """
    f = np.asarray(frequency, float)
    wavelength = env.c / f
    p_rx = (
        transmit_power
        * wavelength**2
        * (10 ** (np.asarray(gain_db) / 10)) ** 2
        * 10 ** (np.asarray(ts_db) / 10)
        / (16 * np.pi**2 * target_range**4)
        * 10 ** (-2 * env.absorption(f) * target_range / 10)
        * 10 ** (-np.asarray(beam_loss_db) / 10)
    )
    return np.sqrt(8.0 * p_rx / (n_sectors * impedance))


def minimum_phase(log_amplitude: np.ndarray, n_fft: int) -> np.ndarray:
    """Minimum-phase spectrum (rfft bins) whose log-modulus is ``log_amplitude`` (rfft
    bins of an ``n_fft``-point transform), by folding the real cepstrum."""
    cep = sfft.irfft(log_amplitude, n_fft)
    fold = np.zeros(n_fft)
    fold[0] = cep[0]
    half = n_fft // 2
    fold[1:half] = 2 * cep[1:half]
    if n_fft % 2 == 0:
        fold[half] = cep[half]
    else:
        fold[half] = 2 * cep[half]
    return np.exp(sfft.rfft(fold))


def channel_ping(
    ch: ChannelSettings,
    env: Environment,
    targets: Sequence[EchoTarget],
    n_samples: int,
    noise_db: float | None,
    rng: np.random.Generator | None,
    phase: str = "zero",
    stages: Sequence[FilterStage] | None = None,
) -> np.ndarray:
    """Recorded complex samples (n_samples, n_sector) of one ping of channel ``ch``.

    Sample 0 is the start of transmission; sample ``m`` is at ``m · Δt`` with ``Δt`` the
    channel's sample interval. ``noise_db``: receiver noise (dB re 1 W; None = none).
    """
    if phase not in PHASES:
        raise InvalidParameterError(f"target phase {phase!r} unknown; use one of {PHASES}")
    m = ch.model
    stages = (
        tuple(stages)
        if stages is not None
        else design_stages(m.f_start, m.f_stop, ch.fs, ch.decimation)
    )
    dec = int(np.prod([s.decimation for s in stages]))
    n_x = n_samples * dec
    out = np.zeros((ch.n_sectors, n_samples), dtype=np.complex128)
    if targets:
        y_tx = tapered_chirp(m.f_start, m.f_stop, m.pulse_duration, m.slope, ch.fs)
        n_fft = sfft.next_fast_len(2 * n_x + 2 * y_tx.size)
        freqs = sfft.rfftfreq(n_fft, 1.0 / ch.fs)
        # bins the stage-1 filter passes (beyond them it rejects by > 80 dB)
        centre, bw = 0.5 * (m.f_start + m.f_stop), abs(m.f_stop - m.f_start)
        guard = 0.5 * ch.fs / stages[0].decimation
        band = np.flatnonzero(np.abs(freqs - centre) <= 0.5 * bw + guard)
        band = band[freqs[band] > 0]
        fb = freqs[band]
        y_band = sfft.rfft(y_tx, n_fft)[band]
        # evaluate the smooth factors inside the chirp band and hold them beyond it
        f_eval = np.clip(fb, min(m.f_start, m.f_stop), max(m.f_start, m.f_stop))
        spectrum = np.zeros((ch.n_sectors, freqs.size), dtype=np.complex128)
        for tgt in targets:
            amp = echo_amplitude(ch, env, tgt, f_eval)
            psi = sector_phases(ch, tgt.angle_along, tgt.angle_athwart, f_eval)
            mean_mod = np.abs(np.exp(1j * psi).mean(axis=0))
            if np.min(mean_mod) < 0.1:
                raise InvalidParameterError(
                    f"target at angles ({tgt.angle_along:g}, {tgt.angle_athwart:g}) deg is too "
                    f"far off axis for {ch.channel_id}: split-beam phases wrap"
                )
            delay = np.exp(-2j * np.pi * fb * (2.0 * tgt.range / env.c))
            common = y_band * amp * delay
            if phase == "minimum":
                ts_all = np.interp(
                    np.clip(freqs, f_eval.min(), f_eval.max()), tgt.frequency, tgt.ts
                )
                mp = minimum_phase(np.log(10.0) * ts_all / 20.0, n_fft)
                common = common * np.exp(1j * np.angle(mp[band]))
            spectrum[:, band] += common[None, :] * np.exp(1j * psi) / mean_mod[None, :]
        x = sfft.irfft(spectrum, n_fft, axis=-1)[:, :n_x]
        out += apply_stages(x, stages, axis=-1)[:, :n_samples]
    if noise_db is not None:
        if rng is None:
            raise InvalidParameterError("noise needs a random generator")
        sigma2 = 8.0 * 10 ** (noise_db / 10) / impedance_factor(ch)
        scale = np.sqrt(sigma2 / 2.0)
        out += scale * (rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape))
    return out.T.astype(np.complex64)
