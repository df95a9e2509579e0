"""How well do liquid-filled targets' spectra pin down the semi-major axis a?

For a trained model's worst-predicted liquid-filled test targets, fix ``a`` at the model's
(wrong) prediction and search the rest of the Table I liquid space — semi-minor axis ``b``
(aspect ratio 1.05-8, equivalent radius 5-20 mm), incident angle ``theta`` and the interior
density and sound speed ratios g, h (1.01-1.07) — for the spheroid whose exact TS(f) comes
closest to the target's (least squares in dB over the frequency grid). A small misfit means
a spheroid with that wrong ``a`` has nearly the same spectrum: the error is then a
near-ambiguity of the physics, not only of the learner. A large misfit only says that the
local fits found no twin (two starts: the given one, and the weak-scattering equivalent of
the truth, see :func:`dwba_start`).

Usage::

    python scripts/spectral_twins.py table1.nc cnn.tsm --n 6 --profile 1 --out twins.md

``--profile K`` also traces, for the K worst targets, the best misfit over a grid of fixed
``a`` values (0.7-1.1 x the true a), so the valley of the misfit along ``a`` can be seen.
The worst targets are the ambiguous ones by selection; ``--sample K --ratio R`` gives the
unselected picture: K random liquid-filled test targets per third of theta (0-30, 30-60,
60-90 deg), each with its best twin at R x its true a. ``--figure F`` draws the model's
relative error in a against g and h for all liquid-filled test targets.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

from ts_toolkit.learn.data import KINDS
from ts_toolkit.learn.evaluation import evaluate_model
from ts_toolkit.learn.reports import THETA_THIRDS, bin_masks
from ts_toolkit.modelfile import load_model
from ts_toolkit.parameters import table1_space
from ts_toolkit.plugins import get_simulator

#: A second start is tried when the first one's misfit exceeds this (dB RMS).
SECOND_START_DB = 0.5
#: Valley of the misfit along a: twin a / true a.
VALLEY_RATIOS = (0.7, 0.8, 0.9, 0.95, 1.05, 1.1)


@dataclass(frozen=True)
class LiquidSpace:
    """Bounds of Table I's liquid-filled targets: ratios g = rho_s/rho_w and h = c_s/c_w,
    aspect ratio, equivalent spherical radius (m) and incident angle (deg)."""

    ratio: tuple[float, float]
    alpha: tuple[float, float]
    req: tuple[float, float]
    theta: tuple[float, float]

    @classmethod
    def table1(cls) -> LiquidSpace:
        liquid = next(k for k in table1_space().kinds if k.kind == "liquid").parameters

        def span(name: str) -> tuple[float, float]:
            return liquid[name].minimum, liquid[name].maximum

        return cls(span("rho_s"), span("alpha"), span("Req"), span("theta"))

    def b_range(self, a: float) -> tuple[float, float]:
        """Semi-minor axes b (m) that keep a spheroid with semi-major axis ``a`` (m) in the
        space: a/alpha_max <= b <= a/alpha_min and Req_min^3 <= a b^2 <= Req_max^3."""
        lo = max(a / self.alpha[1], np.sqrt(self.req[0] ** 3 / a))
        hi = min(a / self.alpha[0], np.sqrt(self.req[1] ** 3 / a))
        return lo, hi


def contrast(g: float, h: float) -> float:
    """Weak-scattering contrast C = gamma_kappa - gamma_rho = 1/(g h^2) + 1/g - 2."""
    return 1.0 / (g * h * h) + 1.0 / g - 2.0


def dwba_start(a_new: float, a: float, truth: dict[str, float]) -> dict[str, float]:
    """The weak-scattering (DWBA) equivalent of ``truth`` with semi-major axis ``a_new`` (m).

    In that approximation the backscatter is volume x C x a form factor of
    2 (k/h) sqrt(a^2 cos^2 theta + b^2 sin^2 theta): keep b and h, choose theta so that the
    projected half-length stays the same, and g so that a x C stays the same (clipped to what
    is possible). ``truth``: b (m), theta (deg), g, h.
    """
    b, h = truth["b"], truth["h"]
    spread = max(a_new * a_new - b * b, 1e-30)  # a_new <= b: end-on start (then clipped)
    cos2 = (a * a - b * b) * np.cos(np.radians(truth["theta"])) ** 2 / spread
    theta = float(np.degrees(np.arccos(np.sqrt(np.clip(cos2, 0.0, 1.0)))))
    c_new = contrast(truth["g"], h) * a / a_new
    g = (1.0 / (h * h) + 1.0) / (c_new + 2.0)
    return {"b": b, "theta": theta, "g": float(g), "h": h}


def best_twin(
    sim: Any,
    freq: np.ndarray,
    ts: np.ndarray,
    a: float,
    starts: Sequence[dict[str, float]],
    water: dict[str, float],
    space: LiquidSpace,
) -> tuple[dict[str, float], np.ndarray, int]:
    """The liquid spheroid with semi-major axis ``a`` (m) whose TS (dB) at ``freq`` (Hz) is
    closest to ``ts`` (least squares in dB over the frequencies where ``ts`` is finite).

    Free: b (m), theta (deg), g = rho_s/rho_w and h = c_s/c_w within ``space``. Each of
    ``starts`` (b in m, theta in deg, g, h) is tried in turn until a fit's RMS misfit is at
    most :data:`SECOND_START_DB`. ``water``: rho_w (kg/m^3) and c_w (m/s). Returns the best
    twin's parameters, its residual TS_twin - ts (dB; NaN where ``ts`` is not finite) and
    how many spectra were computed.
    """
    ok = np.isfinite(ts)
    b_lo, b_hi = space.b_range(a)
    if not (ok.any() and b_lo < b_hi):
        raise ValueError(f"no Table I liquid spheroid has a = {1e3 * a:.1f} mm")
    runs = 0

    def spectrum(x: np.ndarray) -> np.ndarray:
        nonlocal runs
        runs += 1
        b_mm, theta, g, h = x
        return sim.ts(
            freq[ok],
            a=a,
            b=b_mm * 1e-3,
            theta=theta,
            rho_s=g * water["rho_w"],
            c_s=h * water["c_w"],
            **water,
        )

    lo = [1e3 * b_lo, space.theta[0], space.ratio[0], space.ratio[0]]
    hi = [1e3 * b_hi, space.theta[1], space.ratio[1], space.ratio[1]]
    best: tuple[dict[str, float], np.ndarray, float] | None = None
    for start in starts:
        x0 = np.clip([start["b"] * 1e3, start["theta"], start["g"], start["h"]], lo, hi)
        fit = least_squares(
            lambda x: spectrum(x) - ts[ok],
            x0,
            bounds=(lo, hi),
            diff_step=1e-4,
            x_scale=[0.1, 1.0, 0.01, 0.01],
            max_nfev=80,
        )
        res = np.full(ts.shape, np.nan)
        res[ok] = fit.fun
        b_mm, theta, g, h = fit.x
        twin = {"a": a, "b": b_mm * 1e-3, "theta": theta, "g": g, "h": h}
        misfit = rms(res)
        if best is None or misfit < best[2]:
            best = (twin, res, misfit)
        if misfit <= SECOND_START_DB:
            break
    assert best is not None
    return best[0], best[1], runs


def rms(x: np.ndarray) -> float:
    """Root mean square (dB) of the finite values."""
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x**2)))


def plot_contrast_errors(ev: Any, ds: xr.Dataset, liquid: np.ndarray, path: Path) -> str:
    """Draw the relative error in a of the ``liquid`` (mask over ``ev``'s targets) test
    targets against g and h (PNG at ``path``), coloured by theta; return a line with their
    correlations, by theta third."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = ds.isel(target=ev.indices)
    rel = 100.0 * (ev.pred["a"] / ev.truth["a"] - 1.0)
    theta = ev.truth["theta"]
    ratios = {
        "g = rho_s / rho_w": sub["rho_s"].values / sub["rho_w"].values,
        "h = c_s / c_w": sub["c_s"].values / sub["c_w"].values,
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
    for ax, (label, x) in zip(axes, ratios.items(), strict=True):
        art = ax.scatter(x[liquid], rel[liquid], c=theta[liquid], s=6, cmap="viridis")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel(label)
    axes[0].set_ylabel("error in a (% of true a)")
    fig.colorbar(art, ax=axes, label="incident angle theta (deg)")
    fig.suptitle(f"{ev.label}: liquid-filled test targets ({int(liquid.sum())})")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    parts = []
    edges = zip(THETA_THIRDS[:-1], THETA_THIRDS[1:])
    for (lo, hi), third in zip(edges, bin_masks(theta, THETA_THIRDS), strict=True):
        sel = liquid & third & np.isfinite(rel)
        g, h = (np.corrcoef(x[sel], rel[sel])[0, 1] for x in ratios.values())
        parts.append(f"theta {lo:g}-{hi:g} deg ({int(sel.sum())}): g {g:.2f}, h {h:.2f}")
    return f"wrote {path}; correlation of the relative error in a with: " + "; ".join(parts)


#: The columns :func:`twin_cells` fills.
TWIN_COLUMNS = "twin b (mm) | twin theta | twin g / h | RMS (dB) | max abs (dB) | spectra computed"


def twin_cells(*fit_args: Any) -> str:
    """The :data:`TWIN_COLUMNS` cells of a Markdown row for ``best_twin(*fit_args)``, or the
    reason there is no twin."""
    try:
        twin, res, runs = best_twin(*fit_args)
    except ValueError as exc:
        return f"{exc} | | | | | "
    return (
        f"{1e3 * twin['b']:.2f} | {twin['theta']:.1f} | {twin['g']:.3f} / {twin['h']:.3f} "
        f"| {rms(res):.2f} | {np.nanmax(np.abs(res)):.2f} | {runs}"
    )


def target_of(ds: xr.Dataset, i: int) -> tuple[xr.Dataset, np.ndarray, dict, dict]:
    """Target ``i`` of ``ds``: its row, TS (dB), water (kg/m^3, m/s) and true parameters
    (b in m, theta in deg, g, h)."""
    t = ds.isel(target=i)
    water = {"rho_w": float(t["rho_w"]), "c_w": float(t["c_w"])}
    truth = {
        "b": float(t["b"]),
        "theta": float(t["theta"]),
        "g": float(t["rho_s"]) / water["rho_w"],
        "h": float(t["c_s"]) / water["c_w"],
    }
    return t, t["TS"].values.astype(float), water, truth


def worst_table(
    ev: Any, ds: xr.Dataset, sim: Any, space: LiquidSpace, worst: np.ndarray, tic: float
) -> list[str]:
    """Rows: for each of the ``worst`` evaluation targets, its best twin at the predicted a
    (starts: the model's b and theta with the true g and h, then the DWBA equivalent)."""
    freq = ds["frequency"].values
    lines = [
        "| target | true a / b (mm) | theta (deg) | g / h | predicted a / b (mm) "
        "| RMS, only a changed (dB) | " + TWIN_COLUMNS + " |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for j in worst:
        i = int(ev.indices[j])
        t, ts, water, truth = target_of(ds, i)
        a, a_pred, b_pred = float(t["a"]), float(ev.pred["a"][j]), float(ev.pred["b"][j])
        only_a = sim.ts(freq, a=a_pred, rho_s=truth["g"] * water["rho_w"],
                        c_s=truth["h"] * water["c_w"], b=truth["b"], theta=truth["theta"],
                        **water) - ts  # fmt: skip
        starts = [
            {**truth, "b": b_pred, "theta": float(ev.pred["theta"][j])},
            dwba_start(a_pred, a, truth),
        ]
        lines.append(
            f"| {i} | {1e3 * a:.1f} / {1e3 * truth['b']:.2f} "
            f"| {truth['theta']:.1f} | {truth['g']:.3f} / {truth['h']:.3f} "
            f"| {1e3 * a_pred:.1f} / {1e3 * b_pred:.2f} | {rms(only_a):.2f} "
            f"| {twin_cells(sim, freq, ts, a_pred, starts, water, space)} |"
        )
        print(lines[-1], f"({time.perf_counter() - tic:.0f} s)", flush=True)
    return lines


RATIO_HEADER = [
    "| target | true a / b (mm) | theta (deg) | g / h | twin a / true a | " + TWIN_COLUMNS + " |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]


def ratio_rows(
    ds: xr.Dataset, sim: Any, space: LiquidSpace, i: int, ratios: Sequence[float], tic: float
) -> list[str]:
    """Rows: target ``i``'s best twin with a fixed at each ratio x the true a (starts: the
    true b, theta, g, h, then the DWBA equivalent)."""
    freq = ds["frequency"].values
    t, ts, water, truth = target_of(ds, i)
    a_true = float(t["a"])
    head = (
        f"| {i} | {1e3 * a_true:.1f} / {1e3 * truth['b']:.2f} | {truth['theta']:.1f} "
        f"| {truth['g']:.3f} / {truth['h']:.3f}"
    )
    lines = []
    for ratio in ratios:
        a = ratio * a_true
        starts = [truth, dwba_start(a, a_true, truth)]
        cells = twin_cells(sim, freq, ts, a, starts, water, space)
        lines.append(f"{head} | {ratio:.2f} | {cells} |")
        print(lines[-1], f"({time.perf_counter() - tic:.0f} s)", flush=True)
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (counts must be >= 0 and the ratio > 0)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the labelled spectra the model was trained on")
    ap.add_argument("model", type=Path, help="a trained model file (.tsm)")
    ap.add_argument("--n", type=int, default=6, help="worst-predicted liquid targets (by a)")
    ap.add_argument("--profile", type=int, default=1, help="worst targets to trace a's valley")
    ap.add_argument("--sample", type=int, default=0, help="random liquid targets per theta third")
    ap.add_argument("--ratio", type=float, default=0.8, help="twin a / true a for --sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --sample draw")
    ap.add_argument("--out", type=Path, help="write the Markdown tables here too")
    ap.add_argument("--figure", type=Path, help="draw a's error against g and h (PNG)")
    args = ap.parse_args(argv)
    for name in ("n", "profile", "sample"):
        if getattr(args, name) < 0:
            ap.error(f"--{name} must be >= 0, got {getattr(args, name)}")
    if not args.ratio > 0:
        ap.error(f"--ratio must be > 0, got {args.ratio}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    ds = xr.open_dataset(args.data).load()
    model = load_model(args.model)
    ev = evaluate_model(model, ds, label=args.model.stem)
    sim = get_simulator("prolate-spheroid")
    space = LiquidSpace.table1()
    liquid = np.asarray(ev.truth["kind"]) == KINDS.index("liquid")
    if args.figure:
        print(plot_contrast_errors(ev, ds, liquid, args.figure))
    err = np.abs(ev.pred["a"] - ev.truth["a"])
    ranked = np.argsort(np.where(liquid & np.isfinite(err), err, -1.0))[::-1]
    worst = ranked[: max(args.n, args.profile)]
    tic = time.perf_counter()
    lines = [
        f"Model {args.model.name}, data {args.data.name}. Twin: a fixed; b, theta, g = "
        "rho_s/rho_w and h = c_s/c_w fitted within Table I's liquid space (least squares in "
        f"dB, {ds.sizes['frequency']} frequencies; a second start, the DWBA equivalent, when "
        f"the first ends above {SECOND_START_DB} dB RMS).",
        "",
    ]
    if args.n:
        lines += [f"The {args.n} liquid test targets with the largest |error in a|:", ""]
        lines += [*worst_table(ev, ds, sim, space, worst[: args.n], tic), ""]
    if args.profile:
        lines += ["Misfit valley along a:", "", *RATIO_HEADER]
        for j in worst[: args.profile]:
            lines += ratio_rows(ds, sim, space, int(ev.indices[j]), VALLEY_RATIOS, tic)
        lines.append("")
    if args.sample:
        rng = np.random.default_rng(args.seed)
        lines += [
            f"{args.sample} random liquid-filled test targets per theta third (seed "
            f"{args.seed}), twin a = {args.ratio:g} x true a:",
            "",
            *RATIO_HEADER,
        ]
        for third in bin_masks(ev.truth["theta"], THETA_THIRDS):
            pool = np.flatnonzero(liquid & third)
            for j in rng.choice(pool, size=min(args.sample, pool.size), replace=False):
                lines += ratio_rows(ds, sim, space, int(ev.indices[j]), (args.ratio,), tic)
        lines.append("")
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
