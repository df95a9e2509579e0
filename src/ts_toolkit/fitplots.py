"""Per-target figures for deciding whom to believe: the measured TS(f), the physics-based
inversion's fitted spectrum and the spectrum of the learned model's answer (``predict
--plot DIR``).

The spectra come from the inversion model's ``model_spectrum`` method (any model object
with that method serves); this module only draws.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .apply import measured_bands
from .outputs import atomic_output
from .plotting import _pyplot


def _pred(ds: xr.Dataset, name: str, i: int) -> Any:
    var = f"pred_{name}"
    return ds[var].values[i] if var in ds else None


def _describe(ds: xr.Dataset, i: int) -> str:
    kind = _pred(ds, "kind", i)
    p = _pred(ds, "probability", i)
    parts = [f"{kind}" + (f" p={float(p):.2f}" if p is not None else "")]
    for name, scale, unit in (("a", 1e3, " mm"), ("b", 1e3, " mm"), ("theta", 1.0, "°")):
        v = _pred(ds, name, i)
        if v is not None and np.isfinite(v):
            parts.append(f"{name} {float(v) * scale:.1f}{unit}")
    misfit = _pred(ds, "misfit", i)
    if misfit is not None and np.isfinite(misfit):
        parts.append(f"misfit {float(misfit):.1f} dB")
    if bool(_pred(ds, "ood", i)):
        parts.append("OOD")
    return ", ".join(parts)


def _title(spectra: xr.Dataset, i: int) -> str:
    parts = [f"target {i}"]
    if "ping_time" in spectra:
        parts.append(str(np.datetime_as_string(spectra["ping_time"].values[i], unit="s")))
    if "channel" in spectra:
        parts.append(str(spectra["channel"].values[i]))
    if "range" in spectra:
        parts.append(f"range {float(spectra['range'].values[i]):.2f} m")
    return ", ".join(parts)


def _answer_spectrum(
    inversion: Any,
    frequency: np.ndarray,
    ds: xr.Dataset,
    i: int,
    kind: str,
    contrasts: tuple[float | None, float | None],
) -> np.ndarray:
    """TS (dB) at ``frequency`` (Hz) of the spheroid of ``ds``'s predicted a, b, theta of
    target ``i``, of ``kind``, with the density and sound-speed ``contrasts`` (None: the
    middle of the kind's range)."""
    a, b, theta = (float(_pred(ds, name, i)) for name in ("a", "b", "theta"))
    return inversion.model_spectrum(frequency, kind, a, b, theta, *contrasts)


def target_fit_figure(
    spectra: xr.Dataset,
    i: int,
    inversion: Any,
    inverted: xr.Dataset,
    learned: xr.Dataset | None,
    learned_name: str = "learned model",
) -> Any | None:
    """The figure of target ``i`` (see :func:`plot_target_fits`), or None when it measured
    nothing. The caller saves and closes it."""
    plt = _pyplot()
    f_meas = np.asarray(spectra["frequency"].values, float)
    ts_meas = np.asarray(spectra["TS"].transpose("target", "frequency").values[i], float)
    f_model = np.asarray(inverted["frequency"].values, float)
    measured = np.isfinite(ts_meas)
    if not measured.any():
        return None
    lo, hi = f_meas[measured].min(), f_meas[measured].max()
    f_fit = f_model[(f_model >= lo) & (f_model <= hi)]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for b_lo, b_hi in measured_bands(f_meas, measured):
        ax.axvspan(b_lo / 1e3, b_hi / 1e3, color="0.92", zorder=0)
    ax.plot(f_meas / 1e3, ts_meas, ".", ms=3, color="0.2", label="measured")
    kind = str(_pred(inverted, "kind", i))
    fitted = kind in ("gas", "liquid")
    contrasts = (
        (float(_pred(inverted, "density_contrast", i)),
         float(_pred(inverted, "sound_speed_contrast", i)))
        if fitted else (None, None)
    )  # fmt: skip
    if fitted and f_fit.size:
        fit = _answer_spectrum(inversion, f_fit, inverted, i, kind, contrasts)
        ax.plot(f_fit / 1e3, fit, color="tab:blue", lw=1.4,
                label=f"inversion fit: {_describe(inverted, i)}")  # fmt: skip
    if learned is not None and f_fit.size:
        l_kind = str(_pred(learned, "kind", i))
        if l_kind in ("gas", "liquid"):
            answer = _answer_spectrum(
                inversion, f_fit, learned, i, l_kind, contrasts if l_kind == kind else (None, None)
            )
            ax.plot(f_fit / 1e3, answer, color="tab:orange", lw=1.2, ls="--",
                    label=f"{learned_name}: {_describe(learned, i)}")  # fmt: skip
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("TS (dB re 1 m²)")
    ax.set_title(textwrap.fill(_title(spectra, i), 100), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_target_fits(
    spectra: xr.Dataset,
    inversion: Any,
    inverted: xr.Dataset,
    learned: xr.Dataset | None,
    out_dir: str | Path,
    learned_name: str = "learned model",
) -> list[Path]:
    """One PNG per target in ``out_dir`` (``target-0000.png`` ...): the measured TS(f) of
    ``spectra`` (source grid), the inversion's fit (``inverted``: predictions of the
    ``inversion`` model, ``pred_*``) and, when given, the exact spectrum of ``learned``'s
    answer (its kind, a, b, theta; contrasts from the inversion's fit when the kinds agree,
    else the middle of the kind's range). Measured bands are shaded. Returns the paths."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(int(spectra.sizes["target"])):
        fig = target_fit_figure(spectra, i, inversion, inverted, learned, learned_name)
        if fig is None:
            continue
        path = out_dir / f"target-{i:04d}.png"
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        paths.append(path)
    return paths
