"""Single-target detection on pulse-compressed, sector-averaged EK80 data.

Criteria follow the Simrad/Echoview "single-target detection, split beam" method
(Demer et al. 2015, section on TS measurements; Soule et al. 1995), adapted to
pulse-compressed FM data: the reference echo length is the width of the compressed
transmit pulse (the matched-filter autocorrelation) at the same pulse-length
determination level, so a point target has a normalised echo length of 1.

A candidate is a local maximum of the received power. It is kept when

1. its range is within ``[min_range, max_range]`` (m); ``min_range`` is raised to
   ``c τ / 2`` (the reach of the compressed transmit pulse) when smaller;
2. its beam-compensated TS at the centre frequency, at the peak of the 8× upsampled
   envelope, is ≥ ``min_ts`` (dB re 1 m²);
3. its normalised echo length, measured ``pldl`` dB below the peak on an 8× upsampled
   envelope, is within ``[min_echo_length, max_echo_length]``;
4. its two-way beam compensation is ≤ ``max_beam_compensation`` (dB);
5. the standard deviations of the along- and athwartship angles over the samples of the
   echo are ≤ ``max_angle_std`` (deg);
6. no stronger candidate lies within ``min_separation`` (m);
7. it is not a range side lobe of a stronger echo: its power exceeds, by at least
   ``sidelobe_margin`` dB, the side-lobe level that every stronger candidate within the
   compressed pulse's reach puts at its range (the stronger power times the normalised
   autocorrelation power of the transmit replica at that lag, its maximum over ±2 samples);
   None disables this criterion;
8. it stands out from its surroundings: its refined peak power is at least ``min_sbr`` dB
   above the background, the median power within ``background_window`` (m) on either side
   of the peak with the echo's own samples (±2 compressed-pulse widths) left out (None
   disables). Noise peaks and the ripples of a stronger echo's skirt (the range response
   of a target whose TS(f) has deep nulls, or of the seabed) rise only a few dB above
   such a background; a target whose TS(f) window is filled by another echo's energy
   could not be measured anyway;
9. it lies at least ``bottom_margin`` (m) above the seabed of its ping (see
   :mod:`.bottom`; applied by :func:`.core.process_ping`, not here).

Single-beam channels have no angles: criteria 4–5 are skipped and TS is uncompensated.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ts_toolkit.errors import InvalidParameterError
from ts_toolkit.options import option

UPSAMPLE = 8


@dataclass(frozen=True)
class DetectionSettings:
    """Single-target detection criteria (SI units, angles in degrees, levels in dB).

    ``bottom_sp`` selects the seabed guard: ``"auto"`` (default) detects the seabed per
    ping with :func:`.bottom.detect_bottom`; ``None`` disables the guard; a number (dB,
    deprecated) forces the old fixed-level guard (the first sample with Sp at or above it
    is the seabed), kept so that ``--bottom-sp`` still works.
    """

    min_ts: float = option(
        -50.0, "Minimum beam-compensated TS at the centre frequency.", unit="dB re 1 m2"
    )
    pldl: float = option(6.0, "Pulse-length determination level below the peak.", unit="dB")
    min_echo_length: float = option(0.7, "Minimum echo length / compressed pulse length.")
    max_echo_length: float = option(1.5, "Maximum echo length / compressed pulse length.")
    max_beam_compensation: float = option(6.0, "Maximum two-way beam compensation.", unit="dB")
    max_angle_std: float = option(
        0.6, "Maximum std of the split-beam angles over an echo.", unit="deg"
    )
    min_range: float = option(1.0, "Minimum range (raised to c·τ/2 when smaller).", unit="m")
    max_range: float | None = option(None, "Maximum range (none: the whole record).", unit="m")
    min_separation: float = option(
        0.5, "A weaker candidate closer than this to a stronger one is dropped.", unit="m"
    )
    bottom_sp: float | str | None = option(
        "auto",
        "Seabed guard: 'auto' detects the seabed per ping (docs/ek80.md); none switches the "
        "guard off; a number (deprecated) takes the first sample with Sp >= it as the seabed.",
        unit="dB",
    )
    bottom_margin: float = option(
        0.5, "Targets closer than this above the seabed, or beyond it, are dropped.", unit="m"
    )
    sidelobe_margin: float | None = option(
        10.0,
        "A candidate must exceed the range side-lobe level of stronger echoes by this "
        "(none: no side-lobe test).",
        unit="dB",
    )
    min_sbr: float | None = option(
        15.0,
        "A peak must stand this far above the median power around it (none: no test).",
        unit="dB",
    )
    background_window: float = option(
        0.5, "Half-width of the range window of that median (min_sbr).", unit="m"
    )

    def __post_init__(self) -> None:
        mode = self.bottom_sp
        if isinstance(mode, str) and mode.lower() != "auto":
            raise InvalidParameterError(
                f"bottom_sp must be 'auto', none or a number (dB), not {mode!r}"
            )


def envelope_width(
    y: np.ndarray, peak: int, level_db: float, f_shift: float, dt: float, half: int
) -> tuple[float, float, float]:
    """Width (samples, fractional) of ``|y|²`` at ``level_db`` below its peak near ``peak``,
    the refined (sub-sample) peak position, and the refined peak's power relative to the
    sampled peak's (dB, ≥ 0: the scalloping loss of the coarse sampling).

    The complex segment ``y[peak-half : peak+half+1]`` is shifted down by ``f_shift`` (Hz;
    the band centre, so that the aliased band sits around 0 Hz), upsampled
    :data:`UPSAMPLE` times by Fourier interpolation, and the level crossings found on
    the upsampled power.
    """
    lo, hi = max(peak - half, 0), min(peak + half + 1, len(y))
    n = np.arange(lo, hi)
    seg = y[lo:hi] * np.exp(-2j * np.pi * f_shift * n * dt)
    if seg.size < 3:
        return 1.0, float(peak), 0.0
    up = fourier_upsample(seg, UPSAMPLE)
    p = np.abs(up) ** 2
    centre = (peak - lo) * UPSAMPLE
    search = slice(max(centre - UPSAMPLE, 0), min(centre + UPSAMPLE + 1, p.size))
    k = search.start + int(np.argmax(p[search]))
    sampled = np.abs(y[peak]) ** 2
    gain_db = float(10 * np.log10(p[k] / sampled)) if sampled > 0 and p[k] > 0 else 0.0
    threshold = p[k] / 10 ** (level_db / 10)
    below = p < threshold
    left_idx = np.flatnonzero(below[:k])
    right_idx = np.flatnonzero(below[k + 1 :])
    if left_idx.size == 0 or right_idx.size == 0:
        return np.inf, lo + k / UPSAMPLE, gain_db
    i0 = left_idx[-1]
    left = i0 + (threshold - p[i0]) / (p[i0 + 1] - p[i0])
    i1 = k + 1 + right_idx[0]
    right = i1 - 1 + (p[i1 - 1] - threshold) / (p[i1 - 1] - p[i1])
    return (right - left) / UPSAMPLE, lo + k / UPSAMPLE, gain_db


def fourier_upsample(x: np.ndarray, factor: int) -> np.ndarray:
    """Complex ``x`` upsampled ``factor`` times by zero-padding its spectrum: the same
    numbers as :func:`scipy.signal.resample` ``(x, factor * len(x))`` (its two-sided
    branch, including the split of an even length's Nyquist bin) without its per-call
    overhead, which dominated the detection of a survey's many candidates."""
    from scipy import fft as sp_fft

    n = x.shape[-1]
    num = n * factor
    spectrum = sp_fft.fft(x)
    half = n // 2 + 1
    padded = np.zeros(num, dtype=spectrum.dtype)
    padded[:half] = spectrum[:half]
    if half < n:
        padded[half - n :] = spectrum[half - n :]
    if n % 2 == 0:  # the unpaired bin: half to each side
        padded[n // 2] /= 2
        padded[num - n // 2] = padded[n // 2]
    return sp_fft.ifft(padded / (n / num), n=num, overwrite_x=True)


@dataclass
class Candidate:
    """One accepted single target: sample index, refined position (samples), normalised
    echo length, echo extent (samples) and the refined peak's gain over the sampled
    peak (dB)."""

    index: int
    position: float
    echo_length: float
    left: int
    right: int
    peak_gain: float = 0.0


def local_maxima(power: np.ndarray) -> np.ndarray:
    """Indices of samples strictly greater than the next and ≥ the previous one."""
    p = power
    inner = (p[1:-1] >= p[:-2]) & (p[1:-1] > p[2:])
    return np.flatnonzero(inner) + 1


def detect(
    power: np.ndarray,
    ts_compensated: np.ndarray,
    compensation: np.ndarray | None,
    angle_along: np.ndarray | None,
    angle_athwart: np.ndarray | None,
    ranges: np.ndarray,
    y: np.ndarray,
    reference_width: float,
    f_shift: float,
    dt: float,
    settings: DetectionSettings,
    autocorr_power: np.ndarray | None = None,
) -> tuple[list[Candidate], dict[str, int]]:
    """Apply the criteria; return accepted targets and counts of rejections by reason.

    ``power`` (W), ``ts_compensated`` (dB), ``compensation`` (dB, None for single beam),
    angles (deg, None for single beam), ``ranges`` (m) per sample; ``y`` the
    sector-averaged compressed samples; ``reference_width`` the compressed transmit
    pulse's width (samples) at ``settings.pldl``; ``autocorr_power`` the replica's
    autocorrelation power normalised to a peak of 1 at its centre sample (for the
    side-lobe criterion; None skips it).
    """
    s = settings
    counts = {
        "candidates": 0,
        "ts": 0,
        "echo_length": 0,
        "beam_compensation": 0,
        "angle_std": 0,
        "separation": 0,
        "sidelobe": 0,
        "background": 0,
        "accepted": 0,
    }
    peaks = local_maxima(power)
    in_range = ranges[peaks] >= s.min_range
    if s.max_range is not None:
        in_range &= ranges[peaks] <= s.max_range
    peaks = peaks[in_range]
    counts["candidates"] = int(peaks.size)
    # the sampled peak can sit up to ~3 dB below the true peak (coarse sampling of the
    # compressed pulse): pre-select with that slack, decide on the refined peak below
    strong = ts_compensated[peaks] >= s.min_ts - 3.0
    counts["ts"] = int(np.sum(~strong))
    peaks = peaks[strong]
    order = peaks[np.argsort(power[peaks])[::-1]]
    half = max(int(np.ceil(4 * reference_width)), 8)
    threshold_of = 10 ** (s.pldl / 10)
    seen: list[float] = []  # ranges (m) of the candidates looked at, sorted
    stronger: list[int] = []
    accepted: list[Candidate] = []
    sidelobe = _sidelobe_test(autocorr_power, s.sidelobe_margin)
    spacing = float(abs(ranges[1] - ranges[0])) if ranges.size > 1 else 1.0
    bg_half = max(int(round(s.background_window / spacing)), 1)
    bg_skip = max(int(np.ceil(2 * reference_width)), 2)
    min_separation = s.min_separation
    # Python numbers: most candidates are dropped by the separation test, a few operations
    # on floats each (numpy scalars and a generator took four times longer)
    for idx, r_idx in zip(order.tolist(), ranges[order].tolist(), strict=True):
        at = bisect.bisect_left(seen, r_idx)  # seen is sorted: its neighbours are nearest
        # seen[at - 1] < r_idx <= seen[at]: the distances |r_idx - seen[j]| of both
        if (at > 0 and r_idx - seen[at - 1] < min_separation) or (
            at < len(seen) and seen[at] - r_idx < min_separation
        ):
            counts["separation"] += 1
            continue
        seen.insert(at, r_idx)
        is_sidelobe = sidelobe is not None and sidelobe(power, idx, stronger)
        stronger.append(idx)
        if is_sidelobe:
            counts["sidelobe"] += 1
            continue
        width, position, gain = envelope_width(y, int(idx), s.pldl, f_shift, dt, half)
        if ts_compensated[idx] + gain < s.min_ts:
            counts["ts"] += 1
            continue
        if s.min_sbr is not None:
            background = background_power(power, int(idx), bg_half, bg_skip)
            if power[idx] * 10 ** (gain / 10) < background * 10 ** (s.min_sbr / 10):
                counts["background"] += 1
                continue
        norm = width / reference_width
        if not (s.min_echo_length <= norm <= s.max_echo_length):
            counts["echo_length"] += 1
            continue
        if compensation is not None and compensation[idx] > s.max_beam_compensation:
            counts["beam_compensation"] += 1
            continue
        lo = idx
        while lo > 0 and power[lo - 1] >= power[idx] / threshold_of:
            lo -= 1
        hi = idx
        while hi < power.size - 1 and power[hi + 1] >= power[idx] / threshold_of:
            hi += 1
        if angle_along is not None and angle_athwart is not None and hi > lo:
            std = max(np.std(angle_along[lo : hi + 1]), np.std(angle_athwart[lo : hi + 1]))
            if std > s.max_angle_std:
                counts["angle_std"] += 1
                continue
        accepted.append(Candidate(int(idx), float(position), float(norm), int(lo), int(hi), gain))
    counts["accepted"] = len(accepted)
    accepted.sort(key=lambda c: c.index)
    return accepted, counts


def background_power(power: np.ndarray, idx: int, half: int, skip: int) -> float:
    """Median of ``power`` over ``[idx - half, idx + half]`` without ``[idx - skip, idx +
    skip]`` (the echo itself); 0 when fewer than 8 samples remain (no test possible)."""
    lo, hi = max(idx - half, 0), min(idx + half + 1, power.size)
    left = power[lo : max(idx - skip, lo)]
    right = power[min(idx + skip + 1, hi) : hi]
    around = np.concatenate([left, right])
    return float(np.median(around)) if around.size >= 8 else 0.0


def sidelobe_envelope(autocorr_power: np.ndarray) -> np.ndarray:
    """The largest of ``autocorr_power`` within ±2 samples of each lag (circular), the
    side-lobe level a stronger echo puts around it; read-only, built once per replica."""
    acf = np.asarray(autocorr_power, dtype=float)
    return _envelope_of(acf.tobytes())


@lru_cache(maxsize=32)
def _envelope_of(acf: bytes) -> np.ndarray:
    a = np.frombuffer(acf, dtype=float)
    envelope = np.max(np.stack([np.roll(a, k) for k in range(-2, 3)]), axis=0)
    envelope.flags.writeable = False
    return envelope


def _sidelobe_test(autocorr_power: np.ndarray | None, margin_db: float | None):
    """A function ``(power, idx, stronger) -> bool``: is sample ``idx`` within ``margin_db``
    of the range side lobes of the ``stronger`` peaks? None when disabled."""
    if autocorr_power is None or margin_db is None:
        return None
    acf = np.asarray(autocorr_power, dtype=float)
    centre = acf.size // 2
    envelope = sidelobe_envelope(acf)
    factor = 10 ** (margin_db / 10)

    def test(power: np.ndarray, idx: int, stronger: list[int]) -> bool:
        for j in stronger:
            k = centre + idx - j
            if 0 <= k < acf.size and power[idx] < factor * power[j] * envelope[k]:
                return True
        return False

    return test
