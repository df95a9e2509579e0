"""Calibration-sphere check: measured TS(f) of a sphere vs the elastic-sphere model.

Works on an EK80 ``.raw`` file (every FM split-beam ping; the strongest single target in
the given range interval of each ping is taken as the sphere) or on a CRIMAC-layout JSON
ping (see :mod:`.crimac`). The theory uses Faran's model (:mod:`.sphere`) with the water
sound speed from the file and the density from its temperature and salinity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError
from ts_toolkit.outputs import atomic_output

MATERIALS: dict[str, tuple[float, float, float]] = {
    # density (kg/m3), longitudinal and transverse sound speed (m/s)
    "wc": (14900.0, 6853.0, 4171.0),  # tungsten carbide, 6 % cobalt
    "cu": (8947.0, 4760.0, 2288.5),  # copper (Foote 1990 values)
}


@dataclass
class SphereCheck:
    """Result: frequency (Hz), measured TS per detection (n, n_freq, dB), their mean in
    the linear domain, theory (dB), difference (dB), and the detections used."""

    frequency: np.ndarray
    measured: np.ndarray
    theory: np.ndarray
    detections: list[dict[str, Any]] = field(default_factory=list)
    label: str = ""

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
    range_min: float = 0.0,
    range_max: float = np.inf,
    **options: Any,
) -> SphereCheck:
    """Measure the sphere in ``path`` (``.raw`` or CRIMAC ``.json``) and compare.

    ``diameter`` in m; ``options`` are detection/TS(f) settings (see the ek80 source).
    """
    from .core import Replica, process_ping
    from .source import Ek80Source
    from .sphere import elastic_sphere_ts, water_density

    if material.lower() not in MATERIALS:
        raise InvalidParameterError(
            f"unknown sphere material {material!r}; known: {', '.join(MATERIALS)}"
        )
    if not 0.001 <= diameter <= 0.2:
        raise InvalidParameterError(f"sphere diameter {diameter * 1e3:g} mm is outside 1-200 mm")
    rho_s, c_l, c_t = MATERIALS[material.lower()]
    p = Path(path)
    options.setdefault("min_ts", -80.0)
    opts = Ek80Source().options(**options)
    det, tsf = opts.detection(), opts.tsf()
    if p.suffix.lower() == ".json":
        from .crimac import load_crimac_ping

        try:
            pings = [load_crimac_ping(p)]
        except (KeyError, ValueError, TypeError) as exc:
            raise InputFileError(f"{p} is not a CRIMAC-layout EK80 ping: {exc}") from exc
    else:
        from .datagrams import check_framing
        from .reader import iter_fm_pings

        check_framing(p)
        pings = iter_fm_pings(p, {}, list(opts.channels) if opts.channels else None)
    detections: list[dict[str, Any]] = []
    frequency = None
    env = None
    for ping in pings:
        if ping.beam_type == 0 or ping.n_sectors < 3:
            continue
        result = process_ping(ping, det, tsf, Replica.build(ping))
        inside = [t for t in result.targets if range_min <= t["range"] <= range_max]
        if not inside:
            continue
        best = max(inside, key=lambda t: t["TS_centre"])
        if frequency is None:
            frequency, env = result.frequency, ping.environment
        elif not np.array_equal(frequency, result.frequency):
            continue  # only the first channel's band
        best.update(channel=ping.channel, ping_time=ping.ping_time)
        detections.append(best)
    if not detections or frequency is None or env is None:
        raise InputFileError(
            f"no sphere echo found in {p} between {range_min:g} and {range_max:g} m"
        )
    theory = elastic_sphere_ts(
        frequency,
        diameter / 2,
        rho_s,
        c_l,
        c_t,
        water_density(env.temperature, env.salinity),
        env.c,
    )
    measured = np.stack([d["TS"] for d in detections])
    label = f"{diameter * 1e3:g} mm {material.upper()} sphere, {p.name}"
    return SphereCheck(frequency, measured, theory, detections, label)


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
