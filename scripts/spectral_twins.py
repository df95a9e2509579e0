"""How well do liquid-filled targets' spectra pin down the semi-major axis a?

For a trained model's worst-predicted test targets, fix ``a`` at the model's (wrong)
prediction and search the rest of the Table I parameter space — semi-minor axis ``b``,
incident angle ``theta``, interior density and sound speed (1.01-1.07 x water) — for the
spheroid whose exact TS(f) comes closest to the target's (least squares in dB over the whole
frequency grid). A small misfit means a spheroid with that wrong ``a`` has nearly the same
spectrum: the error is then a near-ambiguity of the physics, not only of the learner.

Usage::

    python scripts/spectral_twins.py table1.nc cnn.tsm --n 6 --profile 1 --out twins.md

``--profile K`` also traces, for the K worst targets, the best misfit over a grid of fixed
``a`` values (0.7-1.1 x the true a), so the valley of the misfit along ``a`` can be seen.
The worst targets are the ambiguous ones by selection; ``--sample K --ratio R`` gives the
unselected picture: K random liquid-filled test targets per third of theta (0-30, 30-60,
60-90 deg), each with its best twin at R x its true a. ``--figure F`` draws the CNN's
relative error in a against g and h for all liquid-filled test targets.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

from ts_toolkit.learn.data import KINDS
from ts_toolkit.learn.evaluation import evaluate_model
from ts_toolkit.modelfile import load_model
from ts_toolkit.plugins import get_simulator

#: Interior density and sound speed of liquid-filled targets, as ratios to water (Table I).
CONTRAST_RANGE = (1.01, 1.07)


def best_twin(
    sim: Any,
    freq: np.ndarray,
    ts: np.ndarray,
    a: float,
    start: dict[str, float],
    water: dict[str, float],
) -> tuple[dict[str, float], np.ndarray]:
    """The liquid spheroid with semi-major axis ``a`` (m) whose TS (dB) is closest to ``ts``.

    Free: b (m), theta (deg), g = rho_s/rho_w, h = c_s/c_w within Table I; started from
    ``start``. Returns its parameters and the residual TS_twin - ts (dB) per frequency.
    """

    def spectrum(x: np.ndarray) -> np.ndarray:
        b_mm, theta, g, h = x
        return sim.ts(
            freq,
            a=a,
            b=b_mm * 1e-3,
            theta=theta,
            rho_s=g * water["rho_w"],
            c_s=h * water["c_w"],
            **water,
        )

    b_hi = min(a * 1e3 * 0.999, 3 * start["b"] * 1e3)
    lo = [min(0.3 * start["b"] * 1e3, b_hi * 0.5), 0.01, CONTRAST_RANGE[0], CONTRAST_RANGE[0]]
    hi = [b_hi, 90.0, CONTRAST_RANGE[1], CONTRAST_RANGE[1]]
    x0 = np.clip([start["b"] * 1e3, start["theta"], start["g"], start["h"]], lo, hi)
    fit = least_squares(
        lambda x: spectrum(x) - ts,
        x0,
        bounds=(lo, hi),
        diff_step=1e-4,
        x_scale=[0.1, 1.0, 0.01, 0.01],
        max_nfev=80,
    )
    b_mm, theta, g, h = fit.x
    return {"a": a, "b": b_mm * 1e-3, "theta": theta, "g": g, "h": h}, fit.fun


def rms(x: np.ndarray) -> float:
    """Root mean square (dB) of the finite values."""
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x**2)))


def plot_contrast_errors(ev: Any, ds: xr.Dataset, path: Path) -> str:
    """Draw the relative error in a of liquid-filled test targets against g and h (PNG at
    ``path``), coloured by theta; return a line with their correlations, by theta range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = ds.isel(target=ev.indices)
    liquid = sub["kind"].values.astype(str) == "liquid"
    rel = 100.0 * (ev.pred["a"] / ev.truth["a"] - 1.0)
    theta = ev.truth["theta"]
    ratios = {
        "g = rho_s / rho_w": sub["rho_s"].values / sub["rho_w"].values,
        "h = c_s / c_w": sub["c_s"].values / sub["c_w"].values,
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
    for ax, (label, x) in zip(axes, ratios.items()):
        art = ax.scatter(x[liquid], rel[liquid], c=theta[liquid], s=6, cmap="viridis")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel(label)
    axes[0].set_ylabel("error in a (% of true a)")
    fig.colorbar(art, ax=axes, label="incident angle theta (deg)")
    fig.suptitle(f"{ev.label}: liquid-filled test targets ({int(liquid.sum())})")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    parts = []
    for lo, hi in ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0)):
        sel = liquid & (theta >= lo) & (theta <= hi) & np.isfinite(rel)
        g, h = (np.corrcoef(x[sel], rel[sel])[0, 1] for x in ratios.values())
        parts.append(f"theta {lo:g}-{hi:g} deg ({int(sel.sum())}): g {g:.2f}, h {h:.2f}")
    return f"wrote {path}; correlation of the relative error in a with: " + "; ".join(parts)


def target_of(ds: xr.Dataset, i: int) -> tuple[xr.Dataset, np.ndarray, dict, dict]:
    """Target ``i`` of ``ds``: its row, TS (dB), water and true parameters as a fit start."""
    t = ds.isel(target=i)
    water = {"rho_w": float(t["rho_w"]), "c_w": float(t["c_w"])}
    truth = {
        "b": float(t["b"]),
        "theta": float(t["theta"]),
        "g": float(t["rho_s"]) / water["rho_w"],
        "h": float(t["c_s"]) / water["c_w"],
    }
    return t, t["TS"].values.astype(float), water, truth


def worst_table(ev: Any, ds: xr.Dataset, sim: Any, worst: np.ndarray, tic: float) -> list[str]:
    """Rows: for each of the ``worst`` evaluation targets, its best twin at the predicted a."""
    freq = ds["frequency"].values
    lines = [
        "| target | kind | true a / b (mm) | theta (deg) | g / h | predicted a / b (mm) "
        "| twin b (mm) | twin theta | twin g / h | RMS (dB) | max abs (dB) "
        "| RMS, only a changed (dB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for j in worst:
        i = int(ev.indices[j])
        t, ts, water, truth = target_of(ds, i)
        a_pred, b_pred = float(ev.pred["a"][j]), float(ev.pred["b"][j])
        only_a = (
            sim.ts(
                freq,
                a=a_pred,
                b=truth["b"],
                theta=truth["theta"],
                rho_s=float(t["rho_s"]),
                c_s=float(t["c_s"]),
                **water,
            )
            - ts
        )
        start = {**truth, "b": b_pred, "theta": float(ev.pred["theta"][j])}
        twin, res = best_twin(sim, freq, ts, a_pred, start, water)
        lines.append(
            f"| {i} | {t['kind'].item()} | {1e3 * float(t['a']):.1f} / {1e3 * truth['b']:.2f} "
            f"| {truth['theta']:.1f} | {truth['g']:.3f} / {truth['h']:.3f} "
            f"| {1e3 * a_pred:.1f} / {1e3 * b_pred:.2f} | {1e3 * twin['b']:.2f} "
            f"| {twin['theta']:.1f} | {twin['g']:.3f} / {twin['h']:.3f} | {rms(res):.2f} "
            f"| {np.nanmax(np.abs(res)):.2f} | {rms(only_a):.2f} |"
        )
        print(lines[-1], f"({time.perf_counter() - tic:.0f} s)", flush=True)
    return lines


def ratio_rows(
    ds: xr.Dataset, sim: Any, i: int, ratios: tuple[float, ...], tic: float, label: str = ""
) -> list[str]:
    """Rows: target ``i``'s best twin with a fixed at each ratio x the true a (started from
    the true b, theta, g, h)."""
    freq = ds["frequency"].values
    t, ts, water, truth = target_of(ds, i)
    lines = []
    for ratio in ratios:
        a = ratio * float(t["a"])
        twin, res = best_twin(sim, freq, ts, a, truth, water)
        lines.append(
            f"| {label}{i} | {1e3 * float(t['a']):.1f} / {1e3 * truth['b']:.2f} "
            f"| {truth['theta']:.1f} | {truth['g']:.3f} / {truth['h']:.3f} | {ratio:.2f} "
            f"| {1e3 * twin['b']:.2f} | {twin['theta']:.1f} | {twin['g']:.3f} / {twin['h']:.3f} "
            f"| {rms(res):.2f} |"
        )
        print(lines[-1], f"({time.perf_counter() - tic:.0f} s)", flush=True)
    return lines


RATIO_HEADER = [
    "| target | true a / b (mm) | theta (deg) | g / h | twin a / true a | twin b (mm) "
    "| twin theta | twin g / h | RMS (dB) |",
    "|---|---|---|---|---|---|---|---|---|",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the labelled spectra the model was trained on")
    ap.add_argument("model", type=Path, help="a trained model file (.tsm)")
    ap.add_argument("--n", type=int, default=6, help="worst-predicted targets (by a) to test")
    ap.add_argument("--profile", type=int, default=1, help="targets to trace the a valley for")
    ap.add_argument(
        "--sample", type=int, default=0, help="random liquid test targets per theta third"
    )
    ap.add_argument("--ratio", type=float, default=0.8, help="twin a / true a for --sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --sample draw")
    ap.add_argument("--out", type=Path, help="write the Markdown tables here too")
    ap.add_argument("--figure", type=Path, help="draw a's error against the contrasts (PNG)")
    args = ap.parse_args()

    ds = xr.open_dataset(args.data).load()
    model = load_model(args.model)
    ev = evaluate_model(model, ds, label=args.model.stem)
    sim = get_simulator("prolate-spheroid")
    if args.figure:
        print(plot_contrast_errors(ev, ds, args.figure))
    err = np.abs(ev.pred["a"] - ev.truth["a"])
    worst = np.argsort(np.where(np.isfinite(err), err, -1))[::-1][: args.n]
    tic = time.perf_counter()
    lines = [
        f"Model {args.model.name}, data {args.data.name}. Twin: a fixed, b, theta, g = "
        "rho_s/rho_w and h = c_s/c_w fitted within Table I (least squares in dB, "
        f"{ds.sizes['frequency']} frequencies).",
        "",
    ]
    if args.n:
        lines += [f"The {args.n} test targets with the largest |error in a|, twin a = predicted:"]
        lines += ["", *worst_table(ev, ds, sim, worst, tic), ""]
    if args.profile:
        lines += ["Misfit valley along a:", "", *RATIO_HEADER]
        for j in worst[: args.profile]:
            ratios = (0.7, 0.8, 0.9, 0.95, 1.05, 1.1)
            lines += ratio_rows(ds, sim, int(ev.indices[j]), ratios, tic)
        lines.append("")
    if args.sample:
        rng = np.random.default_rng(args.seed)
        liquid = np.asarray(ev.truth["kind"]) == KINDS.index("liquid")
        lines += [
            f"{args.sample} random liquid-filled test targets per theta third (seed "
            f"{args.seed}), twin a = {args.ratio:g} x true a:",
            "",
            *RATIO_HEADER,
        ]
        for lo, hi in ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0)):
            pool = np.flatnonzero(liquid & (ev.truth["theta"] >= lo) & (ev.truth["theta"] <= hi))
            for j in rng.choice(pool, size=min(args.sample, pool.size), replace=False):
                lines += ratio_rows(ds, sim, int(ev.indices[j]), (args.ratio,), tic)
        lines.append("")
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
