"""Sphere calibration: on-axis gain(f), and beam widths and offsets, from sphere echoes.

For every FM split-beam channel of the input files (``.raw`` or CRIMAC ``.json`` pings),
the sphere's echo is found in each ping (the sphere finding of :mod:`.spherecheck`, with a
score that allows a gain error, see :func:`shape_score`), and its TS(f) — computed with the
input's own calibration — is compared with the elastic-sphere theory (:mod:`.sphere`).

With ``Sp_i(f) = TS_i(f) − B_file,i(f)`` the uncompensated sphere echo of detection ``i``
and ``B(θ, φ; BW, θ₀)`` the Simrad two-way beam model (:func:`.angles.beam_compensation`),
the measured ``Sp_i(f) − TS_theory(f) = 2 ΔG(f) − B(θ_i, φ_i; BW_al(f), BW_at(f),
θ₀(f), φ₀(f))``, where ``ΔG = G_true − G_file`` and the angles ``θ_i, φ_i`` are the
physical (split-beam) angles of the detection before offsets.

* **Beam fit** (when at least ``min_beam_detections`` detections span at least
  ``min_coverage`` of the input's beam width on each side of the axis in both planes):
  per frequency of the TS(f) grid (1 kHz by default), the five unknowns ΔG, BW_al, BW_at,
  θ₀, φ₀ are fitted by least squares (``scipy.optimize.least_squares``) to all detections;
  the residuals are the report's beam-pattern fit residuals.
* **On-axis gain only** (otherwise): the beam model is the input's; each detection gives
  ``ΔG_i(f) = (TS_i(f) − TS_theory(f)) / 2`` and ΔG is their mean.

Near the sphere's nulls (:func:`null_mask`: the theory more than ``null_depth`` dB below
its running median over 10 kHz, or steeper than 2 dB/kHz, and one bin either side) the
measured TS(f) cannot follow the theory (the TS(f) window smooths a narrow null); there
the gain correction ΔG, the offsets and ``BW · f`` are interpolated linearly in frequency
from the other frequencies (held constant beyond them), and the report lists them.

In both cases each detection's gain estimate ``G_i(f) = G_file(f) + (Sp_i(f) + B_i(f) −
TS_theory(f)) / 2`` (B from the beam model used) gives the scatter (standard deviation
over detections) shown in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError

from .angles import beam_compensation
from .sphere import MATERIALS
from .spherecheck import NoSphereError, find_sphere, strongest_in_window


@dataclass
class ChannelCalibrationResult:
    """The calibration of one channel: frequency (Hz); the input's and the new gain (dB);
    the per-detection gain estimates (n_det, n_freq; dB); the input's and the new beam
    widths and offsets (deg); the fit residuals (n_det, n_freq; dB; NaN without a fit);
    the detections, the theory (dB) and how the sphere was selected."""

    channel: str
    frequency_nominal: float
    frequency: np.ndarray
    theory: np.ndarray
    gain_file: np.ndarray
    gain: np.ndarray
    gain_per_detection: np.ndarray
    beam_fit: bool
    beam_note: str
    file_beam: dict[str, np.ndarray]
    beam: dict[str, np.ndarray]
    residual: np.ndarray
    detections: list[dict[str, Any]] = field(default_factory=list)
    selection: str = ""
    excluded: np.ndarray | None = None  # frequencies near the sphere's nulls (interpolated)

    @property
    def correction(self) -> np.ndarray:
        """New minus input gain (dB) per frequency."""
        return self.gain - self.gain_file

    @property
    def scatter(self) -> np.ndarray:
        """Standard deviation over detections of the per-detection gain (dB)."""
        if self.gain_per_detection.shape[0] < 2:
            return np.full(self.frequency.shape, np.nan)
        return np.nanstd(self.gain_per_detection, axis=0, ddof=1)

    def ping_corrections(self) -> list[float]:
        """Each detection's gain correction (dB), the median over frequency (away from
        the sphere's nulls) of its ``G_i(f) − G_file(f)``."""
        keep = np.ones(self.frequency.shape, bool) if self.excluded is None else ~self.excluded
        return [float(np.nanmedian((g - self.gain_file)[keep])) for g in self.gain_per_detection]

    def summary(self) -> dict[str, Any]:
        i_c = int(np.argmin(np.abs(self.frequency - self.frequency_nominal)))
        out = {
            "channel": self.channel,
            "detections": len(self.detections),
            "band_khz": [float(self.frequency[0] / 1e3), float(self.frequency[-1] / 1e3)],
            "gain_correction_median_db": float(np.nanmedian(self.correction)),
            "gain_scatter_median_db": float(np.median(sd[np.isfinite(sd)]))
            if np.isfinite(sd := self.scatter).any()
            else float("nan"),
            "beam_fit": self.beam_fit,
            "beam_note": self.beam_note,
            "excluded_khz": []
            if self.excluded is None
            else [float(x) for x in self.frequency[self.excluded] / 1e3],
        }
        if self.beam_fit:
            out["residual_rms_db"] = float(np.sqrt(np.nanmean(self.residual**2)))
            for key in ("beamwidth_along", "beamwidth_athwart", "offset_along", "offset_athwart"):
                out[f"{key}_at_{self.frequency[i_c] / 1e3:g}kHz"] = [
                    round(float(self.file_beam[key][i_c]), 4),
                    round(float(self.beam[key][i_c]), 4),
                ]
        return out


SHAPE_SCORE_NAME = "median |measured - theory - level offset|, level offset allowed"


def shape_score(max_offset: float) -> Any:
    """A sphere-match score (dB) that allows a level offset (a gain error): the median over
    frequency of ``|d − median(d)|`` with ``d = TS − theory``, plus how far ``|median(d)|``
    exceeds ``max_offset`` dB (2 × the largest gain error looked for)."""

    def score(ts: np.ndarray, theory: np.ndarray) -> float:
        d = np.asarray(ts, float) - theory
        d = d[np.isfinite(d)]
        if d.size == 0:
            return np.inf
        offset = float(np.median(d))
        return float(np.median(np.abs(d - offset))) + max(0.0, abs(offset) - max_offset)

    return score


def null_mask(
    frequency: np.ndarray, theory: np.ndarray, depth: float = 3.0, slope: float = 2.0
) -> np.ndarray:
    """Frequencies (bool mask) near the nulls of the sphere's theoretical TS(f) (dB):
    more than ``depth`` dB below its running median over 10 kHz, or changing by more than
    ``slope`` dB/kHz between neighbouring frequencies, and one bin either side.
    ``depth`` <= 0: none."""
    from scipy.ndimage import binary_dilation, median_filter

    f = np.asarray(frequency, float)
    if depth <= 0 or f.size < 3:
        return np.zeros(f.shape, bool)
    step = float(np.median(np.diff(f)))
    size = max(3, int(round(10e3 / step)) | 1)
    steep = np.abs(np.diff(theory)) / (np.diff(f) / 1e3) > slope  # between neighbours
    mask = median_filter(theory, size=size, mode="nearest") - theory > depth
    mask[:-1] |= steep
    mask[1:] |= steep
    mask = binary_dilation(mask, iterations=1)
    return np.zeros(f.shape, bool) if mask.all() else mask


def _fill(values: np.ndarray, f: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``values`` with the ``bad`` (or non-finite) entries interpolated linearly in ``f``."""
    out = np.asarray(values, float).copy()
    bad = bad | ~np.isfinite(out)
    if bad.any() and (~bad).any():
        out[bad] = np.interp(f[bad], f[~bad], out[~bad])
    return out


def channel_targets(path: Path, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per FM split-beam channel of ``path`` (``.raw`` or CRIMAC ``.json``): its frequency
    grid (Hz), environment, calibration and per-ping single targets (seabed removed)."""
    from .core import Replica, process_ping
    from .source import Ek80Source

    opts = Ek80Source().options(**options)
    det, tsf, bottom = opts.detection(), opts.tsf(), opts.bottom()
    if path.suffix.lower() == ".json":
        from .crimac import load_crimac_ping

        try:
            pings = [load_crimac_ping(path)]
        except (KeyError, ValueError, TypeError) as exc:
            raise InputFileError(f"{path} is not a CRIMAC-layout EK80 ping: {exc}") from exc
    else:
        from .datagrams import check_framing, is_ek80
        from .reader import iter_fm_pings

        if not path.is_file() or not is_ek80(path):
            raise InputFileError(f"{path} is not an EK80 .raw file (no XML0 datagram first)")
        check_framing(path)
        pings = iter_fm_pings(path, {}, list(opts.channels) if opts.channels else None)
    out: dict[str, dict[str, Any]] = {}
    replicas: dict[tuple, Any] = {}
    for ping in pings:
        if ping.beam_type == 0 or ping.n_sectors < 3:
            continue
        key = (ping.channel, ping.f_start, ping.f_stop, ping.duration, ping.sample_interval)
        first = out.get(ping.channel)
        if first is not None and first["key"] != key:
            continue  # one band and pulse per channel: its first
        if key not in replicas:
            replicas[key] = Replica.build(ping)
        result = process_ping(ping, det, tsf, replicas[key], bottom)
        if first is None:
            first = out[ping.channel] = {
                "key": key,
                "frequency": result.frequency,
                "environment": ping.environment,
                "calibration": ping.calibration,
                "per_ping": [],
                "file": path.name,
            }
        for t in result.targets:
            t.update(channel=ping.channel, ping_time=ping.ping_time, file=path.name)
        first["per_ping"].append(result.targets)
    if not out:
        raise InputFileError(f"no FM split-beam ping in {path}")
    return out


def _fit_frequency(
    y: np.ndarray, al: np.ndarray, at: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares (ΔG, BW_al, BW_at, θ₀, φ₀) of ``y = 2ΔG − B(al, at; ...)`` (dB, deg)
    from ``start``; returns the parameters and the residuals."""
    from scipy.optimize import least_squares

    def residual(p: np.ndarray) -> np.ndarray:
        return y - (2 * p[0] - beam_compensation(al, at, p[1], p[2], p[3], p[4]))

    lower = [-np.inf, 0.05 * start[1], 0.05 * start[2], -np.inf, -np.inf]
    upper = [np.inf, 20 * start[1], 20 * start[2], np.inf, np.inf]
    fit = least_squares(residual, start, bounds=(lower, upper), x_scale="jac")
    return fit.x, residual(fit.x)


def calibrate_channel(
    channel: str,
    data: dict[str, Any],
    theory: np.ndarray,
    detections: list[dict[str, Any]],
    selection: str,
    min_beam_detections: int,
    min_coverage: float,
    null_depth: float = 3.0,
) -> ChannelCalibrationResult:
    """Gain (and, where the detections cover the beam, beam widths and offsets) of one
    channel from its sphere ``detections`` (see the module docstring)."""
    cal = data["calibration"]
    f = data["frequency"]
    f_c = float(cal.frequency_nominal) if np.isfinite(cal.frequency_nominal) else float(f.mean())
    gain_file = cal.gain_db(f)
    bw_al, bw_at = cal.beamwidths(f)
    off_al, off_at = cal.offsets(f)
    file_beam = {
        "beamwidth_along": np.asarray(bw_al, float),
        "beamwidth_athwart": np.asarray(bw_at, float),
        "offset_along": np.asarray(off_al, float),
        "offset_athwart": np.asarray(off_at, float),
    }
    ts = np.stack([d["TS"] for d in detections])
    comp = np.stack([d["beam_compensation_f"] for d in detections])
    sp = ts - comp
    # the physical angles before offsets (the targets carry them minus the file's offsets
    # at the ping's centre frequency)
    centre = 0.5 * (f[0] + f[-1])
    o_al, o_at = (float(v) for v in cal.offsets(centre))
    al = np.array([d["angle_alongship"] for d in detections]) + o_al
    at = np.array([d["angle_athwartship"] for d in detections]) + o_at
    y = sp - theory
    bw_c_al, bw_c_at = (float(v) for v in cal.beamwidths(centre))

    def covers(angles: np.ndarray, offset: float, width: float) -> bool:
        d = angles - offset
        return bool(d.min() <= -min_coverage * width and d.max() >= min_coverage * width)

    n = len(detections)
    fit = (
        n >= min_beam_detections
        and covers(al, o_al, bw_c_al)
        and covers(at, o_at, bw_c_at)
        and np.isfinite(al).all()
        and np.isfinite(at).all()
    )
    residual = np.full(y.shape, np.nan)
    beam = {k: v.copy() for k, v in file_beam.items()}
    if fit:
        delta = np.full(f.shape, np.nan)
        for j in range(f.size):
            ok = np.isfinite(y[:, j])
            if ok.sum() < 5:
                continue
            start = np.array(
                [
                    np.nanmean(y[ok, j] + comp[ok, j]) / 2,
                    file_beam["beamwidth_along"][j],
                    file_beam["beamwidth_athwart"][j],
                    file_beam["offset_along"][j],
                    file_beam["offset_athwart"][j],
                ]
            )
            p, r = _fit_frequency(y[ok, j], al[ok], at[ok], start)
            delta[j] = p[0]
            beam["beamwidth_along"][j], beam["beamwidth_athwart"][j] = p[1], p[2]
            beam["offset_along"][j], beam["offset_athwart"][j] = p[3], p[4]
            residual[ok, j] = r
        note = (
            f"fitted per frequency to {n} detections spanning "
            f"{(al - o_al).min():+.2f}..{(al - o_al).max():+.2f} deg alongship and "
            f"{(at - o_at).min():+.2f}..{(at - o_at).max():+.2f} deg athwartship"
        )
        b_used = beam_compensation(
            al[:, None],
            at[:, None],
            beam["beamwidth_along"],
            beam["beamwidth_athwart"],
            beam["offset_along"],
            beam["offset_athwart"],
        )
    else:
        b_used = comp
        delta = np.nanmean((ts - theory) / 2, axis=0)
        note = (
            f"not fitted: the input's beam model ({n} detection(s); a fit needs at least "
            f"{min_beam_detections} spanning +-{min_coverage:g} of the beam width in both "
            "planes)"
        )
    excluded = null_mask(f, theory, null_depth)
    delta = _fill(delta, f, excluded)
    if fit:  # beam widths scale as 1/f: interpolated (and held at the ends) as BW * f
        for key in beam:
            scale = f if key.startswith("beamwidth") else np.ones_like(f)
            beam[key] = _fill(beam[key] * scale, f, excluded) / scale
    per_detection = gain_file + (sp + b_used - theory) / 2
    return ChannelCalibrationResult(
        channel=channel,
        frequency_nominal=f_c,
        frequency=f,
        theory=theory,
        gain_file=gain_file,
        gain=gain_file + delta,
        gain_per_detection=per_detection,
        beam_fit=fit,
        beam_note=note,
        file_beam=file_beam,
        beam=beam,
        residual=residual,
        detections=detections,
        selection=selection,
        excluded=excluded,
    )


def sphere_calibration(
    paths: list[Path],
    diameter: float,
    material: str = "wc",
    range_min: float | None = None,
    range_max: float | None = None,
    tolerance: float = 0.5,
    max_gain_error: float = 3.0,
    gate: float = 0.5,
    min_beam_detections: int = 10,
    min_coverage: float = 0.2,
    null_depth: float = 3.0,
    **options: Any,
) -> list[ChannelCalibrationResult]:
    """Calibrate every FM split-beam channel of ``paths`` from the sphere (``diameter``
    m, ``material`` "wc" or "cu") in their pings. ``range_min``/``range_max`` (m): take the
    strongest echo in this window in each ping; without them the sphere is found by its
    TS(f) (``tolerance``: the largest median |TS − theory − offset| in dB, the offset being
    at most 2 × ``max_gain_error`` dB). ``null_depth`` (dB): see :func:`null_mask`.
    ``options``: the ek80 source's reading options
    (``min_ts`` defaults to −80 dB). Raises :class:`.spherecheck.NoSphereError` when a
    channel has no sphere echo."""
    from .sphere import sphere_ts_in_water

    key = material.lower()
    if key not in MATERIALS:
        raise InvalidParameterError(
            f"unknown sphere material {material!r}; known: {', '.join(MATERIALS)}"
        )
    if not 0.001 <= diameter <= 0.2:
        raise InvalidParameterError(f"sphere diameter {diameter * 1e3:g} mm is outside 1-200 mm")
    for name, value in (("tolerance", tolerance), ("max gain error", max_gain_error)):
        if not value > 0:
            raise InvalidParameterError(f"{name} must be positive, got {value:g} dB")
    if range_min is not None and range_max is not None and range_max <= range_min:
        raise InvalidParameterError(
            f"--range-max {range_max:g} m must be beyond --range-min {range_min:g} m"
        )
    options.setdefault("min_ts", -80.0)
    merged: dict[str, dict[str, Any]] = {}
    for p in paths:
        for channel, data in channel_targets(Path(p), options).items():
            if channel not in merged:
                merged[channel] = data
            elif not np.array_equal(merged[channel]["frequency"], data["frequency"]):
                raise InputFileError(
                    f"{p}: channel {channel} has another band or frequency grid than in "
                    f"{merged[channel]['file']}; calibrate them separately"
                )
            else:
                merged[channel]["per_ping"] += data["per_ping"]
    name = f"{diameter * 1e3:g} mm {key.upper()} sphere"
    results = []
    for channel, data in merged.items():
        env = data["environment"]
        theory = sphere_ts_in_water(data["frequency"], diameter, key, env)
        per_ping = data["per_ping"]
        if range_min is not None or range_max is not None:
            detections, lo, hi = strongest_in_window(per_ping, range_min, range_max)
            if not detections:
                raise NoSphereError(
                    f"channel {channel}: no echo between {lo:g} and {hi:g} m in "
                    f"{len(per_ping)} ping(s)"
                )
            selection = f"strongest echo in {lo:g}-{hi:g} m in {len(detections)} ping(s)"
        else:
            try:
                detections, selection = find_sphere(
                    per_ping,
                    theory,
                    name,
                    tolerance,
                    gate,
                    score=shape_score(2 * max_gain_error),
                    score_name=SHAPE_SCORE_NAME,
                )
            except NoSphereError as exc:
                raise NoSphereError(f"channel {channel}: {exc}") from exc
        results.append(
            calibrate_channel(
                channel,
                data,
                theory,
                detections,
                selection,
                min_beam_detections,
                min_coverage,
                null_depth,
            )
        )
    return results


def transducer_name(channel_id: str) -> str | None:
    """The transducer name of an EK80 channel id ``"WBT 745001-1 ES70-7C"`` (the text after
    the transceiver and channel number), or None when the id has no such part."""
    parts = channel_id.split(maxsplit=2)
    return parts[2] if len(parts) == 3 else None


def calibration_entries(results: list[ChannelCalibrationResult]) -> list[Any]:
    """The results as :class:`.calfile.ChannelCalibration` entries (for the XML)."""
    from .calfile import ChannelCalibration

    return [
        ChannelCalibration(
            r.frequency,
            r.gain,
            r.beam["beamwidth_along"],
            r.beam["beamwidth_athwart"],
            r.beam["offset_along"],
            r.beam["offset_athwart"],
            channel_id=r.channel,
            transducer_name=transducer_name(r.channel),
            frequency_nominal=r.frequency_nominal,
            label=f"channel {r.channel}",
        )
        for r in results
    ]


def plot_calibration(results: list[ChannelCalibrationResult], out: Path, title: str) -> Path:
    """One row per channel: gain(f) (input's, each detection's, new), beam widths (input's
    and fitted) and the beam-pattern fit residuals (each detection, and their rms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ts_toolkit.outputs import atomic_output

    fig, axes = plt.subplots(len(results), 3, figsize=(14, 3.6 * len(results)), squeeze=False)
    for row, r in zip(axes, results):
        f = r.frequency / 1e3
        ax = row[0]
        for g in r.gain_per_detection:
            ax.plot(f, g, color="0.8", lw=0.6)
        sd = r.scatter
        ax.fill_between(f, r.gain - sd, r.gain + sd, color="C0", alpha=0.25, label="±1 sd")
        ax.plot(f, r.gain, color="C0", lw=1.8, label="new gain")
        ax.plot(f, r.gain_file, color="C3", ls="--", label="input's gain")
        ax.set_ylabel("gain (dB)")
        ax.set_title(f"{r.channel}: {len(r.detections)} detections", fontsize=9)
        ax.legend(fontsize=8)
        ax = row[1]
        for key, colour in (("beamwidth_along", "C0"), ("beamwidth_athwart", "C1")):
            ax.plot(f, r.file_beam[key], color=colour, ls="--", label=f"{key} (input)")
            if r.beam_fit:
                ax.plot(f, r.beam[key], color=colour, label=f"{key} (fitted)")
        ax.set_ylabel("one-way -3 dB beam width (deg)")
        ax.set_title("beam widths" + ("" if r.beam_fit else " (not fitted)"), fontsize=9)
        ax.legend(fontsize=7)
        ax = row[2]
        if r.beam_fit:
            for res in r.residual:
                ax.plot(f, res, color="0.8", lw=0.6)
            ax.plot(f, np.sqrt(np.nanmean(r.residual**2, axis=0)), color="C2", label="rms")
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title("beam-pattern fit residuals", fontsize=9)
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no beam fit", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel("residual (dB)")
        for ax in row:
            ax.set_xlabel("frequency (kHz)")
            ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def report_markdown(results: list[ChannelCalibrationResult], title: str, png: Path) -> str:
    """A short report: per channel, the sphere selection, gain correction and scatter, the
    beam fit, and each detection's gain correction."""
    lines = [f"# {title}", "", f"![calibration plots]({png.name})", ""]
    for r in results:
        s = r.summary()
        lines += [
            f"## {r.channel}",
            "",
            f"- sphere: {r.selection}",
            f"- band {s['band_khz'][0]:g}-{s['band_khz'][1]:g} kHz; gain correction (new - "
            f"input) median {s['gain_correction_median_db']:+.3f} dB; per-detection scatter "
            f"median {s['gain_scatter_median_db']:.3f} dB",
            f"- beam: {r.beam_note}",
            "- near the sphere's nulls (interpolated): "
            + (
                ", ".join(f"{x:g}" for x in s["excluded_khz"]) + " kHz"
                if s["excluded_khz"]
                else "none"
            ),
        ]
        if r.beam_fit:
            lines.append(f"- fit residual rms {s['residual_rms_db']:.3f} dB")
            for k, v in s.items():
                if k.startswith(("beamwidth_", "offset_")):
                    lines.append(f"- {k}: input {v[0]:g}, fitted {v[1]:g} deg")
        lines += [
            "",
            "| detection | file | range (m) | along (deg) | athwart (deg) | gain correction (dB) |",
            "|---|---|---|---|---|---|",
        ]
        for i, (d, c) in enumerate(zip(r.detections, r.ping_corrections())):
            lines.append(
                f"| {i} | {d.get('file', '')} | {d['range']:.2f} | "
                f"{d['angle_alongship']:+.2f} | {d['angle_athwartship']:+.2f} | {c:+.3f} |"
            )
        lines.append("")
    return "\n".join(lines)
