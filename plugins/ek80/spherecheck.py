"""Calibration-sphere check: measured TS(f) of a sphere vs the elastic-sphere model.

Works on an EK80 ``.raw`` file (every FM split-beam ping of the first such channel) or on
a CRIMAC-layout JSON ping (see :mod:`.crimac`). The theory uses Faran's model
(:mod:`.sphere`) with the water sound speed from the file and the density from its
temperature and salinity.

Which echo is the sphere:

* with a range window (``range_min`` and/or ``range_max``): in each ping, the strongest
  single target inside it;
* without one (ek80-notes §2): every single target of every ping that is not seabed (the
  seabed guard of :mod:`.bottom` removes echoes within ``bottom_margin`` of the seabed or
  below it) is compared with the theory; its score is the median over frequency of
  ``|TS_measured(f) − TS_theory(f)|``. The best-scoring echo fixes the sphere's range; in
  every ping the best-scoring echo within ``gate`` m of that range and within
  ``tolerance`` dB is taken. When no echo scores within ``tolerance`` (default 2 dB), a
  :class:`NoSphereError` says how far the best one is and where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError, TsToolkitError
from ts_toolkit.outputs import atomic_output

from .sphere import MATERIALS


class NoSphereError(TsToolkitError):
    """No echo in the file matches the sphere's theoretical TS(f) within the tolerance."""


@dataclass
class SphereCheck:
    """Result: frequency (Hz), measured TS per detection (n, n_freq, dB), their mean in
    the linear domain, theory (dB), difference (dB), and the detections used."""

    frequency: np.ndarray
    measured: np.ndarray
    theory: np.ndarray
    detections: list[dict[str, Any]] = field(default_factory=list)
    label: str = ""
    selection: str = ""

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 10 * np.log10(np.nanmean(10 ** (self.measured / 10), axis=0))

    @property
    def difference(self) -> np.ndarray:
        return self.mean - self.theory

    def stats(self) -> dict[str, float]:
        """median |Δ|, mean Δ, rms Δ (dB) and fraction of frequencies with |Δ| ≤ 1 dB."""
        d = self.difference[np.isfinite(self.difference)]
        if d.size == 0:
            return {"median_abs": np.nan, "mean": np.nan, "rms": np.nan, "within_1dB": 0.0}
        return {
            "median_abs": float(np.median(np.abs(d))),
            "mean": float(np.mean(d)),
            "rms": float(np.sqrt(np.mean(d**2))),
            "within_1dB": float(np.mean(np.abs(d) <= 1.0)),
        }


def sphere_check(
    path: str | Path,
    diameter: float,
    material: str = "wc",
    range_min: float | None = None,
    range_max: float | None = None,
    tolerance: float = 2.0,
    gate: float = 0.5,
    **options: Any,
) -> SphereCheck:
    """Measure the sphere in ``path`` (``.raw`` or CRIMAC ``.json``) and compare.

    ``diameter`` in m; ``range_min``/``range_max`` (m): the range window (None: find the
    sphere, see the module docstring); ``tolerance`` (dB): the largest median
    |measured − theory| an echo may have to be taken for the sphere when no window is
    given; ``gate`` (m): how far from the best echo's range the sphere's echoes of other
    pings may lie; ``options``: detection/TS(f)/seabed settings (see the ek80 source;
    ``min_ts`` defaults to −80 dB). Raises :class:`NoSphereError` when no echo matches.
    """
    from .sphere import sphere_ts_in_water

    if material.lower() not in MATERIALS:
        raise InvalidParameterError(
            f"unknown sphere material {material!r}; known: {', '.join(MATERIALS)}"
        )
    if not 0.001 <= diameter <= 0.2:
        raise InvalidParameterError(f"sphere diameter {diameter * 1e3:g} mm is outside 1-200 mm")
    if tolerance <= 0:
        raise InvalidParameterError(f"tolerance must be positive, got {tolerance:g} dB")
    p = Path(path)
    options.setdefault("min_ts", -80.0)
    frequency, env, per_ping = _ping_targets(p, options)
    theory = sphere_ts_in_water(frequency, diameter, material.lower(), env)
    name = f"{diameter * 1e3:g} mm {material.upper()} sphere"
    label = f"{name}, {p.name}"
    if range_min is not None or range_max is not None:
        detections, lo, hi = strongest_in_window(per_ping, range_min, range_max)
        if not detections:
            raise InputFileError(f"no sphere echo found in {p} between {lo:g} and {hi:g} m")
        measured = np.stack([d["TS"] for d in detections])
        return SphereCheck(
            frequency, measured, theory, detections, label, f"strongest echo in {lo:g}-{hi:g} m"
        )
    detections, selection = find_sphere(per_ping, theory, name, tolerance, gate)
    measured = np.stack([d["TS"] for d in detections])
    return SphereCheck(frequency, measured, theory, detections, label, selection)


def strongest_in_window(
    per_ping: list[list[dict[str, Any]]], range_min: float | None, range_max: float | None
) -> tuple[list[dict[str, Any]], float, float]:
    """The strongest echo (by ``TS_centre``) of each ping between ``range_min`` and
    ``range_max`` (m; None: open), and the window's ends (±inf where open)."""
    lo = -np.inf if range_min is None else range_min
    hi = np.inf if range_max is None else range_max
    detections = []
    for targets in per_ping:
        inside = [t for t in targets if lo <= t["range"] <= hi]
        if inside:
            detections.append(max(inside, key=lambda t: t["TS_centre"]))
    return detections, lo, hi


def match_score(ts: np.ndarray, theory: np.ndarray) -> float:
    """Median over frequency of |ts − theory| (dB); inf when no frequency is finite."""
    d = np.abs(np.asarray(ts, float) - theory)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else np.inf


def find_sphere(
    per_ping: list[list[dict[str, Any]]],
    theory: np.ndarray,
    name: str,
    tolerance: float,
    gate: float,
    score: Callable[[np.ndarray, np.ndarray], float] = match_score,
    score_name: str = "median |measured - theory|",
) -> tuple[list[dict[str, Any]], str]:
    """The sphere's echoes among every ping's targets (see the module docstring) and a
    sentence saying which were taken and why; :class:`NoSphereError` when none matches.
    ``score(ts, theory)`` (dB): how far an echo is from the sphere (default
    :func:`match_score`; ``score_name`` says what it is in messages)."""
    scored = [(score(t["TS"], theory), i, t) for i, targets in enumerate(per_ping) for t in targets]
    if not scored:
        raise NoSphereError(f"no echo matches a {name}: no single target was detected")
    scored.sort(key=lambda x: x[0])
    best_score, _, best = scored[0]
    if best_score > tolerance:
        raise NoSphereError(
            f"no echo matches a {name}: best is {best_score:.1f} dB off at "
            f"{best['range']:.2f} m ({score_name}; tolerance {tolerance:g} dB)"
        )
    chosen: dict[int, tuple[float, dict[str, Any]]] = {}
    for score, i, t in scored:
        if score <= tolerance and abs(t["range"] - best["range"]) <= gate and i not in chosen:
            chosen[i] = (score, t)
    detections = []
    for i in sorted(chosen):
        score, t = chosen[i]
        detections.append(dict(t, match_db=score))
    others = [x for x in scored if all(x[2] is not t for _, t in chosen.values())]
    runner = (
        f"; the best other echo is {others[0][0]:.1f} dB off at {others[0][2]['range']:.2f} m"
        if others
        else ""
    )
    ranges = np.array([t["range"] for t in detections])
    among = (
        "the only echo that is not seabed"
        if len(scored) == 1
        else f"the best of {len(scored)} echoes that are not seabed"
    )
    selection = (
        f"the echo at {np.median(ranges):.2f} m in {len(detections)} of {len(per_ping)} "
        f"ping(s): its TS(f) is {best_score:.2f} dB ({score_name}) from the "
        f"{name}'s theory, {among} (tolerance {tolerance:g} dB){runner}"
    )
    return detections, selection


def _ping_targets(p: Path, options: dict[str, Any]) -> tuple[np.ndarray, Any, list[list[dict]]]:
    """Frequency grid (Hz), environment and per-ping single targets (seabed removed) of
    the first FM split-beam channel of ``p`` (its first band and pulse)."""
    from .spherecal import channel_targets

    first = next(iter(channel_targets(p, options).values()))
    return first["frequency"], first["environment"], first["per_ping"]


def plot_sphere_check(check: SphereCheck, out: str | Path) -> Path:
    """Measured (each detection and the mean) vs theoretical TS(f), and the difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f_khz = check.frequency / 1e3
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for row in check.measured:
        ax1.plot(f_khz, row, color="0.75", lw=0.8)
    ax1.plot(f_khz, check.mean, color="C0", lw=1.8, label=f"measured ({len(check.measured)})")
    ax1.plot(f_khz, check.theory, color="C3", lw=1.5, ls="--", label="elastic sphere model")
    ax1.set_ylabel("TS (dB re 1 m²)")
    ax1.set_title(check.label)
    ax1.legend()
    ax1.grid(alpha=0.3)
    st = check.stats()
    ax2.plot(f_khz, check.difference, color="C0")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.fill_between(f_khz, -1, 1, color="C2", alpha=0.12)
    ax2.set_ylabel("Δ (dB)")
    ax2.set_xlabel("frequency (kHz)")
    ax2.set_title(
        f"median |Δ| {st['median_abs']:.2f} dB, mean Δ {st['mean']:+.2f} dB, "
        f"{100 * st['within_1dB']:.0f}% within ±1 dB",
        fontsize=9,
    )
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return out
