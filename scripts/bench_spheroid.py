"""Speed and robustness benchmark of the prolate-spheroid model (run by ``make bench``).

Draws targets from Table I of the project (gas: Req 0.1-5 mm, rho 2-80 kg/m3, c 343 m/s;
liquid: Req 5-20 mm, rho and c 1.01-1.07 x water; alpha 1.05-8; theta 0.01-90 deg;
b = Req / alpha^(1/3), a = alpha b; water 1027 kg/m3, 1500 m/s), computes each spectrum on the
10-260 kHz, 0.5 kHz grid (501 frequencies) on ONE core, and prints a table of the mean time
per spectrum per kind plus the count of non-finite values.  Writes the table as markdown to
docs/spheroid_benchmark.md.

Usage: python scripts/bench_spheroid.py [--draws N] [--seed S] [--out PATH]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RHO_W, C_W = 1027.0, 1500.0
FREQ = np.arange(10e3, 260e3 + 1.0, 0.5e3)


def draw(kind: str, rng: np.random.Generator) -> dict[str, float]:
    """One Table I target of the given kind."""
    if kind == "gas":
        req = rng.uniform(0.1e-3, 5e-3)
        rho_s, c_s = rng.uniform(2.0, 80.0), 343.0
    else:
        req = rng.uniform(5e-3, 20e-3)
        rho_s, c_s = RHO_W * rng.uniform(1.01, 1.07), C_W * rng.uniform(1.01, 1.07)
    alpha = rng.uniform(1.05, 8.0)
    theta = rng.uniform(0.01, 90.0)
    b = req / alpha ** (1 / 3)
    return {"a": alpha * b, "b": b, "theta": theta, "rho_s": rho_s, "c_s": c_s}


def validation() -> str:
    """Markdown tables: our TS minus the Jech et al. (2015) benchmark, per case and class."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _spheroid_helpers import JECH, load_table, tolerance

    from ts_toolkit_plugins.spheroid.prolate import backscatter_amplitude

    def ts(freq, theta, boundary):
        fbs, ok = backscatter_amplitude(
            np.atleast_1d(np.asarray(freq, float)),
            JECH["a"],
            JECH["b"],
            float(theta),
            JECH["rho_s"],
            JECH["c_s"],
            JECH["rho_w"],
            JECH["c_w"],
            boundary,
        )
        return 20 * np.log10(np.abs(fbs))

    cases = (
        ("rigid", "rigid"),
        ("pressure_release", "pressure-release"),
        ("weakly_scattering", "fluid"),
    )
    freq = load_table("jech2015_prolate_frequency.csv")
    ang = load_table("jech2015_prolate_angle.csv")
    lines = [
        "| case | sweep | points | max abs diff, within 10 dB of local max (tol 0.1) | "
        "null flanks 10-20 dB (tol 0.3) | deeper nulls (tol 1.0) |",
        "|---|---|---|---|---|---|",
    ]
    curves = {}
    for col, bnd in cases:
        for sweep, table, xkey, window in (
            ("frequency, 90 deg", freq, "frequency_khz", 10.0),
            ("angle >= 40 deg, 38 kHz", ang, "angle_deg", 10.0),
            ("angle < 40 deg, 38 kHz", ang, "angle_deg", 10.0),
        ):
            x, bench = table[xkey], table[col]
            sel = np.isfinite(bench)
            if sweep.startswith("angle >="):
                sel &= x >= 40
            elif sweep.startswith("angle <"):
                sel &= x < 40
            if sweep.startswith("frequency"):
                ours = ts(x[sel] * 1e3, 90.0, bnd)
            else:
                ours = np.array([ts(38e3, t, bnd)[0] for t in x[sel]])
            curves[(col, sweep)] = (x[sel], bench[sel], ours)
            tol = tolerance(x[sel], bench[sel], window)
            d = np.abs(ours - bench[sel])
            cells = []
            for t in (0.1, 0.3, 1.0):
                m = tol == t
                cells.append(f"{d[m].max():.3f} ({m.sum()})" if m.any() else "-")
            lines.append(f"| {col} | {sweep} | {sel.sum()} | " + " | ".join(cells) + " |")
    _figure(curves)
    return "\n".join(lines) + "\n"


def _figure(curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7), constrained_layout=True)
    for i, col in enumerate(("rigid", "pressure_release", "weakly_scattering")):
        for j, sweep in enumerate(("frequency, 90 deg", "angle")):
            ax = axes[j, i]
            if sweep == "angle":
                xs, bs, os_ = [], [], []
                for key in ("angle < 40 deg, 38 kHz", "angle >= 40 deg, 38 kHz"):
                    x, b, o = curves[(col, key)]
                    xs.append(x)
                    bs.append(b)
                    os_.append(o)
                x, b, o = np.concatenate(xs), np.concatenate(bs), np.concatenate(os_)
                ax.set_xlabel("theta (deg), 38 kHz")
            else:
                x, b, o = curves[(col, sweep)]
                ax.set_xlabel("frequency (kHz), broadside")
            ax.plot(x, b, "k.", ms=4, label="Jech et al. 2015 benchmark")
            ax.plot(x, o, "r-", lw=1, label="this model (converged)")
            ax.set_title(col.replace("_", " "))
            ax.set_ylabel("TS (dB re 1 m$^2$)")
            ax.legend(fontsize=8)
    out = Path(__file__).resolve().parents[1] / "docs" / "figures" / "spheroid_benchmark.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20, help="targets per kind")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-validation", action="store_true", help="skip the benchmark table")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "docs" / "spheroid_benchmark.md",
    )
    args = parser.parse_args()

    from ts_toolkit_plugins.spheroid.prolate import ProlateSpheroid

    sim = ProlateSpheroid()
    # warm-up: load/compile the numba kernels outside the timing
    t0 = time.perf_counter()
    sim.ts(FREQ[:3], a=0.01, b=0.002, theta=45.0, rho_s=50.0, c_s=343.0)
    warm = time.perf_counter() - t0

    rows = []
    for kind in ("gas", "liquid"):
        rng = np.random.default_rng(args.seed + (0 if kind == "gas" else 1))
        times, cpu, nonfinite, nwarn = [], [], 0, 0
        for _ in range(args.draws):
            p = draw(kind, rng)
            t = time.perf_counter()
            tc = time.process_time()
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                ts = sim.ts(FREQ, rho_w=RHO_W, c_w=C_W, **p)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - tc)
            nonfinite += int((~np.isfinite(ts)).sum())
            nwarn += len(rec)
            print(
                f"{kind:6s} a={p['a'] * 1e3:6.2f} mm b={p['b'] * 1e3:5.2f} mm "
                f"theta={p['theta']:5.1f} rho_s={p['rho_s']:7.1f} c_s={p['c_s']:6.1f}  "
                f"{times[-1]:6.2f} s wall {cpu[-1]:6.2f} s cpu",
                flush=True,
            )
        t = np.array(times)
        tc = np.array(cpu)
        rows.append(
            (kind, args.draws, tc.mean(), np.median(tc), tc.max(), t.mean(), nonfinite, nwarn)
        )

    mean_both = float(np.mean([r[2] for r in rows]))
    header = (
        "| kind | draws | mean CPU s/spectrum | median | max | mean wall s | non-finite values "
        "| warnings |\n|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {k} | {n} | {m:.2f} | {md:.2f} | {mx:.2f} | {w:.2f} | {nf} | {nw} |\n"
        for k, n, m, md, mx, w, nf, nw in rows
    )
    text = (
        "# Prolate spheroid model: speed benchmark\n\n"
        f"Command: `python scripts/bench_spheroid.py --draws {args.draws} --seed {args.seed}`"
        f" (one core; {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}). 501 frequencies 10-260 kHz per spectrum; Table I "
        f"draws. Kernel load/compile before timing: {warm:.1f} s.\n\n"
        + header
        + body
        + f"\nMean over both kinds: **{mean_both:.2f} CPU s per spectrum** (load average "
        f"during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores).\n"
    )
    if not args.no_validation:
        table = validation()
        text += "\n## Accuracy vs Jech et al. (2015)\n\nmax |ours - benchmark| (dB), (points)\n\n"
        text += table
        print(table)
    print()
    print(header + body)
    print(f"mean over both kinds: {mean_both:.2f} CPU s per spectrum")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
