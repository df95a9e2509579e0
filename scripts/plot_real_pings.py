"""Sp against range of the real EK80 FM pings in ../shared/ek80/real, with the seabed the
ek80 plugin detects and the single targets it keeps (docs/ek80.md, "Seabed").

    python scripts/plot_real_pings.py [--shared ../shared] [--out docs/figures/ek80-real-pings.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PINGS = (
    ("CRIMAC_SphereCentre.json", "120 kHz FM, WC35 sphere at 4.62 m"),
    ("CRIMAC_TSf_singlefish_2022.json", "120 kHz FM, one fish at 12 m"),
    ("pyEcholabEK80data.json", "38 kHz FM, WC22 at 14.3 m and WC57.2 at 19.35 m"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "figures" / "ek80-real-pings.png")
    ap.add_argument("--min-ts", type=float, default=-90.0)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping
    from ts_toolkit_plugins.ek80.detection import DetectionSettings

    fig, axes = plt.subplots(len(PINGS), 1, figsize=(11, 3.2 * len(PINGS)))
    for ax, (name, what) in zip(axes, PINGS, strict=True):
        ping = load_crimac_ping(args.shared / "ek80" / "real" / name)
        result = process_ping(ping, DetectionSettings(min_ts=args.min_ts))
        ax.plot(result.ranges, result.sp, lw=0.5, color="0.3")
        bed = result.seabed
        if bed is not None and np.isfinite(bed.range):
            ax.axvline(bed.range, color="C3", lw=1.2, label=f"seabed {bed.range:.2f} m")
            ax.axvspan(bed.range - 0.5, result.ranges[-1], color="C3", alpha=0.08)
        for t in result.targets:
            ax.plot(t["range"], t["Sp"], "v", color="C0", ms=6)
        ax.plot([], [], "v", color="C0", label=f"single targets (TS >= {args.min_ts:g} dB)")
        ax.set_ylim(-120, -5)
        ax.set_xlim(0, result.ranges[-1])
        ax.set_ylabel("Sp (dB re 1 m²)")
        ax.set_title(f"{name}: {what}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        print(
            f"{name}: seabed {bed.range if bed else np.nan:.2f} m (S_a {bed.sa if bed else np.nan:.1f} dB,"
            f" strongest sample {bed.peak if bed else np.nan:.2f} m); targets "
            + ", ".join(f"{t['range']:.2f} m ({t['TS_centre']:.1f} dB)" for t in result.targets)
        )
    axes[-1].set_xlabel("range (m)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"figure -> {args.out}")


if __name__ == "__main__":
    main()
