"""Figures people would rather look at than read (matplotlib, written to PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .errors import InvalidParameterError
from .outputs import atomic_output


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(ds: xr.Dataset, i: int) -> str:
    parts = []
    if "kind" in ds:
        parts.append(str(ds["kind"].values[i]))
    if "Req" in ds:
        parts.append(f"Req {1e3 * float(ds['Req'].values[i]):.2f} mm")
    if "alpha" in ds:
        parts.append(f"α {float(ds['alpha'].values[i]):.2f}")
    if "theta" in ds:
        parts.append(f"θ {float(ds['theta'].values[i]):.0f}°")
    if "rho_s" in ds:
        parts.append(f"ρ {float(ds['rho_s'].values[i]):.0f} kg/m³")
    return ", ".join(parts) or f"target {i}"


def plot_spectra(ds: xr.Dataset, out: str | Path, n: int = 6, seed: int = 0) -> Path:
    """TS(f) of ``n`` randomly chosen targets per kind (the paper's Figure 1), to PNG."""
    if n < 1:
        raise InvalidParameterError("--n must be at least 1")
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    kinds = [str(k) for k in np.unique(ds["kind"].values)] if "kind" in ds else ["all"]
    fig, axes = plt.subplots(
        1, len(kinds), figsize=(6.5 * len(kinds), 4.5), squeeze=False, sharey=False
    )
    f_khz = ds["frequency"].values / 1e3
    for ax, kind in zip(axes[0], kinds):
        idx = (
            np.flatnonzero(ds["kind"].values == kind)
            if kind != "all"
            else np.arange(ds.sizes["target"])
        )
        chosen = np.sort(rng.choice(idx, size=min(n, idx.size), replace=False))
        for i in chosen:
            ax.plot(f_khz, ds["TS"].values[i], lw=1.0, label=_label(ds, int(i)))
        ax.set_title(f"{kind}-filled" if kind != "all" else "spectra")
        ax.set_xlabel("frequency (kHz)")
        ax.set_ylabel("TS (dB re 1 m²)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(out)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return out
