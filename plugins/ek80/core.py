"""The array-based processing chain for one FM ping of one channel.

Inputs are plain numpy arrays and numbers (:class:`ChannelPing`), so the chain runs and
is tested without a ``.raw`` file: ideal chirp → filter stages → matched filter → pulse
compression per sector → sector average → received power → split-beam angles → Sp →
single-target detection → TS(f) per target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ts_toolkit.options import option

from .angles import (
    SINGLE_BEAM,
    beam_compensation,
    electrical_phase,
    physical_angles,
    spectral_angles,
)
from .bottom import Bottom, BottomSettings, detect_bottom, equivalent_beam_angle, keep_above
from .calibration import Calibration
from .detection import DetectionSettings, detect, envelope_width
from .environment import Environment
from .filters import FilterStage
from .pulse_compression import (
    autocorrelation,
    effective_pulse_duration,
    matched_filter,
    pulse_compress,
    received_power,
    sector_average,
)
from .tsf import target_ts, window_spectrum


@dataclass
class ChannelPing:
    """One FM ping of one channel, as arrays.

    ``samples``: complex sector samples (n_sector, n_sample) in volts, as recorded
    (after the filter stages); ``sample_interval`` (s); ``sample_offset``: index of the
    first sample counted from the start of transmission; transmit ``f_start``,
    ``f_stop`` (Hz), ``duration`` (s), ``slope`` (taper fraction), ``transmit_power`` (W);
    ``fs``: transceiver base sampling rate (Hz); ``stages``: filter stages in order;
    ``beam_type``: 0 single beam, 1 four-sector, 17/49/65/81 three-sector;
    ``transducer_depth``: depth (m, positive down) of the transducer face below the water
    surface at this ping (NaN: unknown; see :func:`.reader.transducer_depths`).
    """

    samples: np.ndarray
    sample_interval: float
    f_start: float
    f_stop: float
    duration: float
    slope: float
    transmit_power: float
    fs: float
    stages: Sequence[FilterStage]
    beam_type: int
    calibration: Calibration
    environment: Environment = field(default_factory=Environment)
    sample_offset: int = 0
    channel: str = ""
    ping_time: Any = None
    transducer_depth: float = float("nan")

    @property
    def f_centre(self) -> float:
        return 0.5 * (self.f_start + self.f_stop)

    @property
    def n_sectors(self) -> int:
        return int(self.samples.shape[0])


@dataclass(frozen=True)
class TsfSettings:
    """TS(f) settings: ``window`` is the half-length (m) of the range window around each
    target's peak; ``frequency_step`` (Hz) spaces the output grid (multiples of it within
    the transmit band); ``band_trim`` (Hz) is dropped at each end of the band."""

    window: float = option(0.5, "Half-length of the range window around a target.", unit="m")
    frequency_step: float = option(1000.0, "Spacing of the output frequency grid.", unit="Hz")
    band_trim: float = option(0.0, "Dropped at each end of the transmit band.", unit="Hz")


def band_grid(f_start: float, f_stop: float, step: float, trim: float = 0.0) -> np.ndarray:
    """Frequencies (Hz): multiples of ``step`` within ``[f_start + trim, f_stop - trim]``."""
    lo, hi = min(f_start, f_stop) + trim, max(f_start, f_stop) - trim
    k0, k1 = int(np.ceil(lo / step - 1e-9)), int(np.floor(hi / step + 1e-9))
    return np.arange(k0, k1 + 1) * step


@dataclass
class Replica:
    """Matched filter ``y_mf``, its autocorrelation, the decimated rate (Hz) and the
    effective pulse duration (s) for one set of transmit parameters."""

    y_mf: np.ndarray
    y_auto: np.ndarray
    fs_dec: float
    tau_eff: float
    _derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, ping: ChannelPing) -> Replica:
        y_mf, fs_dec = matched_filter(
            ping.f_start, ping.f_stop, ping.duration, ping.slope, ping.fs, ping.stages
        )
        dt = ping.sample_interval
        if abs(fs_dec * dt - 1.0) > 1e-3:
            raise ValueError(
                f"filter decimation gives {fs_dec:g} Hz but the samples are at {1 / dt:g} Hz"
            )
        y_auto = autocorrelation(y_mf)
        return cls(y_mf, y_auto, fs_dec, effective_pulse_duration(y_auto, fs_dec))

    def key(self) -> tuple[float, ...]:
        return (len(self.y_mf), self.fs_dec)

    def centred_power(self) -> tuple[int, np.ndarray]:
        """The index of the autocorrelation's peak and its power normalised to 1 at the
        centre sample of an odd-length array (for the side-lobe tests); built once."""
        if "centred" not in self._derived:
            auto_power = np.abs(self.y_auto) ** 2
            auto_peak = int(np.argmax(auto_power))
            centred = np.zeros(2 * max(auto_peak, auto_power.size - 1 - auto_peak) + 1)
            start = centred.size // 2 - auto_peak
            centred[start : start + auto_power.size] = auto_power / auto_power[auto_peak]
            centred.flags.writeable = False
            self._derived["centred"] = (auto_peak, centred)
        return self._derived["centred"]

    def reference_width(self, level_db: float, f_shift: float, dt: float, half: int) -> float:
        """The compressed pulse's width (samples) at ``level_db`` below its peak (see
        :func:`.detection.envelope_width`), computed once per set of arguments."""
        key = ("width", level_db, f_shift, dt, half)
        if key not in self._derived:
            auto_peak, _ = self.centred_power()
            width, _, _ = envelope_width(self.y_auto, auto_peak, level_db, f_shift, dt, half)
            self._derived[key] = width
        return self._derived[key]


@dataclass
class PingResult:
    """Per-sample profiles of one ping (range m, Sp dB, angles deg, compensation dB),
    its targets (list of dicts: range, angles, beam compensation, Sp, TS(f), the ping's
    ``bottom_range``), the seabed range used by the bottom guard (m, NaN if none), the
    detector's full answer ``seabed`` (None when the guard is off or fixed-level) and the
    detected targets the guard removed (``below_bottom``: within ``bottom_margin`` of the
    seabed or beyond; kept so that a multi-ping consistency step can restore them)."""

    ranges: np.ndarray
    sp: np.ndarray
    angle_along: np.ndarray | None
    angle_athwart: np.ndarray | None
    compensation: np.ndarray | None
    frequency: np.ndarray
    targets: list[dict[str, Any]]
    counts: dict[str, int]
    bottom: float = np.nan
    seabed: Bottom | None = None
    below_bottom: list[dict[str, Any]] = field(default_factory=list)


def ping_bottom(
    ping: ChannelPing,
    detection: DetectionSettings,
    ranges: np.ndarray,
    sp: np.ndarray,
    power: np.ndarray,
    replica: Replica,
    autocorr_power: np.ndarray,
    settings: BottomSettings | None = None,
) -> Bottom | None:
    """The seabed of one ping as ``detection.bottom_sp`` asks: ``"auto"`` runs
    :func:`.bottom.detect_bottom`; a number is the deprecated fixed-level guard (first
    sample beyond ``min_range`` with Sp at or above it); None gives None (no guard)."""
    mode = detection.bottom_sp
    if mode is None:
        return None
    if isinstance(mode, str):
        if mode.lower() != "auto":
            raise ValueError(f"bottom_sp must be 'auto', None or a number (dB), not {mode!r}")
        c = ping.environment.sound_speed
        bw_al, bw_at = ping.calibration.beamwidths(ping.f_centre)
        return detect_bottom(
            ranges,
            sp,
            power,
            equivalent_beam_angle(float(bw_al), float(bw_at)),
            c * replica.tau_eff / 2.0,
            c * ping.duration,
            settings,
            autocorr_power,
            detection.min_range,
        )
    hits = np.flatnonzero((ranges >= detection.min_range) & (sp >= float(mode)))
    return Bottom(float(ranges[hits[0]]) if hits.size else np.nan, reason="fixed Sp level")


def process_ping(
    ping: ChannelPing,
    detection: DetectionSettings | None = None,
    tsf: TsfSettings | None = None,
    replica: Replica | None = None,
    bottom: BottomSettings | None = None,
) -> PingResult:
    """Run the whole chain on one ping; see the module docstring. ``bottom``: settings of
    the seabed detector (used when ``detection.bottom_sp`` is ``"auto"``)."""
    detection = detection or DetectionSettings()
    tsf = tsf or TsfSettings()
    replica = replica or Replica.build(ping)
    cal, env = ping.calibration, ping.environment
    dt = ping.sample_interval
    c = env.c
    f_c = ping.f_centre

    y_pc = pulse_compress(ping.samples, replica.y_mf)
    y = sector_average(y_pc)
    power = received_power(y, ping.n_sectors, cal.z_transducer, cal.z_receiver)
    n = np.arange(power.size) + ping.sample_offset
    ranges = n * dt * c / 2.0
    alpha_c = float(env.absorption(f_c))
    gain_c = 10 ** (float(cal.gain_db(f_c)) / 10)
    with np.errstate(divide="ignore", invalid="ignore"):
        sp = (
            10 * np.log10(power)
            + 40 * np.log10(ranges)
            + 2 * alpha_c * ranges
            - 10 * np.log10(ping.transmit_power * (c / f_c) ** 2 * gain_c**2 / (16 * np.pi**2))
        )
    sp = np.where(np.isfinite(sp), sp, -np.inf)

    split = ping.beam_type not in SINGLE_BEAM and ping.n_sectors >= 3
    if split:
        ph_al, ph_at = electrical_phase(y_pc, ping.beam_type)
        raw_al, raw_at = physical_angles(
            ph_al, ph_at, cal.sensitivity_along, cal.sensitivity_athwart, f_c, cal.frequency_nominal
        )
        bw_al, bw_at = cal.beamwidths(f_c)
        off_al, off_at = cal.offsets(f_c)
        comp = beam_compensation(raw_al, raw_at, bw_al, bw_at, off_al, off_at)
        angle_al, angle_at = raw_al - off_al, raw_at - off_at
    else:
        raw_al = raw_at = angle_al = angle_at = comp = None
    ts_comp = sp + (comp if comp is not None else 0.0)

    ref_width = replica.reference_width(
        detection.pldl, f_c, dt, half=max(16, int(0.2 * ping.duration / dt))
    )
    near = c * ping.duration / 2.0  # the compressed transmit pulse reaches this far
    if detection.min_range < near:
        detection = replace(detection, min_range=near)
    _, centred = replica.centred_power()
    seabed = ping_bottom(ping, detection, ranges, sp, power, replica, centred, bottom)
    bottom_range = seabed.range if seabed is not None else np.nan
    found, counts = detect(
        power,
        ts_comp,
        comp,
        angle_al,
        angle_at,
        ranges,
        y,
        ref_width,
        f_c,
        dt,
        detection,
        autocorr_power=centred,
    )

    frequency = band_grid(ping.f_start, ping.f_stop, tsf.frequency_step, tsf.band_trim)
    half = max(1, int(round(2 * tsf.window / c / dt)))
    targets: list[dict[str, Any]] = []
    for cand in found:
        r_t = (cand.position + ping.sample_offset) * dt * c / 2.0
        spectrum = window_spectrum(y, cand.index, replica.y_auto, half, frequency, dt)
        t_al = t_at = None
        if split:
            sectors = window_spectrum(y_pc, cand.index, replica.y_auto, half, frequency, dt)
            t_al, t_at = spectral_angles(
                sectors,
                ping.beam_type,
                cal.sensitivity_along,
                cal.sensitivity_athwart,
                frequency,
                cal.frequency_nominal,
            )
        ts, comp_f = target_ts(
            spectrum,
            frequency,
            r_t,
            t_al,
            t_at,
            cal,
            ping.n_sectors,
            ping.transmit_power,
            env,
        )
        targets.append(
            {
                "range": r_t,
                "angle_alongship": np.nan if t_al is None else t_al - float(off_al),
                "angle_athwartship": np.nan if t_at is None else t_at - float(off_at),
                "beam_compensation": 0.0
                if t_al is None
                else float(beam_compensation(t_al, t_at, bw_al, bw_at, off_al, off_at)),
                "Sp": float(sp[cand.index]) + cand.peak_gain,
                "TS_centre": float(ts_comp[cand.index]) + cand.peak_gain,
                "echo_length": cand.echo_length,
                "TS": ts,
                "beam_compensation_f": comp_f,
                "bottom_range": bottom_range,
            }
        )
    kept, below = keep_above(targets, bottom_range, detection.bottom_margin)
    counts["below_bottom"] = len(below)
    counts["accepted"] = len(kept)
    return PingResult(
        ranges,
        sp,
        angle_al,
        angle_at,
        comp,
        frequency,
        kept,
        counts,
        bottom_range,
        seabed if seabed is not None and seabed.reason != "fixed Sp level" else None,
        below,
    )
