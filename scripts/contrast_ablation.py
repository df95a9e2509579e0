"""How much of the CNN's error in a comes from the liquid targets' free contrast?

Takes ``--n`` liquid-filled and ``--n`` gas-filled targets of the Table I data set and
re-simulates the liquid ones' spectra (exact prolate-spheroid model, same a, b, theta) with
their interior density and sound speed ratios g = rho_s/rho_w and h = c_s/c_w

- ``indep``: as drawn (independent, each 1.01-1.07; the stored spectra are used as they are),
- ``tied``: h = g (one factor for both, same g as drawn),
- ``fixed``: g = h = ``--fixed-ratio`` for every liquid target.

The gas-filled spectra are the stored ones in every arm. The same small CNN (``--width``,
``--epochs``, one cosine cycle, dropout 0.1, seed 1, so the same split) is trained on each
arm, and the liquid-filled test targets' R² of a is reported with a bootstrap interval (the
same resampled targets for every arm), by third of theta and on the training split. A large
gain from ``indep`` to ``fixed`` means the contrast, which trades off against a near broadside
(docs/results.md, *Why a is hard near broadside*), is what limits R² a.

Usage::

    python scripts/contrast_ablation.py table1.nc --work contrast/ --out contrast.md

Resumable: spectra files and models already in ``--work`` are reused, not recomputed.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ts_toolkit.learn.reports import THETA_THIRDS, bin_masks
from ts_toolkit.simulation import compute_chunk

ARMS = ("indep", "tied", "fixed")
CHUNK = 50


def _subset(ds: xr.Dataset, kind: str, n: int, seed: int) -> xr.Dataset:
    """``n`` random targets of one kind, in stored order, renumbered 0..n-1."""
    pool = np.flatnonzero(ds["kind"].values == kind)
    if n > pool.size:
        raise SystemExit(f"error: --n {n} is more than the {pool.size} {kind} targets in the data")
    idx = np.sort(np.random.default_rng(seed).choice(pool, n, replace=False))
    return ds.isel(target=idx).assign_coords(target=np.arange(n))


def arm_materials(liq: xr.Dataset, arm: str, fixed_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Interior density (kg/m³) and sound speed (m/s) of the liquid targets in ``arm``."""
    rho_w, c_w = liq["rho_w"].values, liq["c_w"].values
    if arm == "indep":
        return liq["rho_s"].values, liq["c_s"].values
    if arm == "tied":
        return liq["rho_s"].values, liq["rho_s"].values / rho_w * c_w
    return fixed_ratio * rho_w, fixed_ratio * c_w


def liquid_spectra(liq: xr.Dataset, arm: str, fixed_ratio: float, workers: int) -> xr.Dataset:
    """The liquid subset with its spectra simulated for ``arm`` (stored ones for indep)."""
    if arm == "indep":
        return liq
    rho_s, c_s = arm_materials(liq, arm, fixed_ratio)
    params = {k: liq[k].values for k in ("a", "b", "theta", "rho_w", "c_w")}
    params["rho_s"], params["c_s"] = rho_s, c_s
    f = liq["frequency"].values
    n = liq.sizes["target"]
    chunks = [{k: v[i : i + CHUNK] for k, v in params.items()} for i in range(0, n, CHUNK)]
    k = len(chunks)
    with ProcessPoolExecutor(workers) as pool:
        done = pool.map(compute_chunk, ["prolate-spheroid"] * k, [f] * k, chunks, range(k))
        ts = np.concatenate([c.ts for c in done])
    if np.isnan(ts).any():
        raise SystemExit(f"error: {int(np.isnan(ts).any(1).sum())} {arm} spectra hold NaN")
    out = liq.copy()
    out["TS"] = (("target", "frequency"), ts)  # float32, as compute_chunk returns it
    out["rho_s"] = ("target", rho_s)
    out["c_s"] = ("target", c_s)
    out.attrs["title"] = f"{n} Table I liquid-filled targets, contrast {arm}"
    return out


def arm_dataset(gas: xr.Dataset, liq: xr.Dataset, attrs: dict[str, Any]) -> xr.Dataset:
    n = gas.sizes["target"] + liq.sizes["target"]
    ds = xr.concat([gas, liq], dim="target").assign_coords(target=np.arange(n))
    ds.attrs = dict(attrs)
    return ds


def train_arm(ds: xr.Dataset, width: int, epochs: int, threads: int) -> Any:
    from ts_toolkit.learn import train_model

    return train_model(
        ds,
        "cnn",
        seed=1,
        width=width,
        dropout=0.1,
        epochs=epochs,
        t0_epochs=epochs,
        t_mult=1,
        threads=threads,
        device="cpu",
        progress=True,
        patience=epochs,
    )


def r2(truth: dict[str, np.ndarray], pred: dict[str, np.ndarray], key: str, sel: Any) -> float:
    """R² of ``key`` over the selected targets (NaN for fewer than two of them, or no spread)."""
    from ts_toolkit.learn.metrics import r2_score

    t = truth[key][sel]
    if t.size < 2 or np.ptp(t) == 0:
        return float("nan")
    return float(r2_score(t, pred[key][sel]))


def arm_report(model: Any, ds: xr.Dataset, boots: list[np.ndarray]) -> dict[str, Any]:
    """Scores of one arm: all test targets, liquid-filled ones (bootstrap 5-95 %), thirds.

    ``boots`` (positions among the liquid-filled test targets, resampled with replacement)
    is drawn on the first call and reused, so every arm is scored on the same resamples.
    """
    from ts_toolkit.learn.evaluation import evaluate_model

    test = evaluate_model(model, ds)
    train = evaluate_model(model, ds, indices=model.split.train)
    t, p = test.truth, test.pred
    liq = t["kind"] == 1
    if not boots:
        rng = np.random.default_rng(0)
        positions = np.flatnonzero(liq)
        boots.extend(rng.choice(positions, positions.size) for _ in range(2000))
    lo, hi = np.percentile([r2(t, p, "a", s) for s in boots], [5, 95])
    thirds = [r2(t, p, "a", liq & third) for third in bin_masks(t["theta"], THETA_THIRDS)]
    return {
        "test_r2": {k: test.metrics[f"r2_{k}"] for k in ("theta", "a", "b")},
        "liquid_r2": {k: r2(t, p, k, liq) for k in ("theta", "a", "b")},
        "liquid_r2_a_90": [float(lo), float(hi)],
        "liquid_rmse_a_mm": float(1e3 * np.sqrt(np.mean((t["a"][liq] - p["a"][liq]) ** 2))),
        "liquid_r2_a_by_theta_third": thirds,
        "liquid_train_r2_a": r2(train.truth, train.pred, "a", train.truth["kind"] == 1),
        "best_validation_composite": model.training["best_validation_composite"],
        "fit_s": model.training.get("fit_seconds"),
        "n_test": int(liq.size),
        "n_test_liquid": int(liq.sum()),
    }


def markdown(results: dict[str, dict[str, Any]]) -> str:
    head = (
        "| contrast | R² a, all test | R² a, liquid (90 % bootstrap) | RMSE a, liquid (mm) "
        "| R² a liquid, θ 0–30 / 30–60 / 60–90° | R² a liquid, training split "
        "| R² θ / b, liquid |\n|---|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for arm, r in results.items():
        lo, hi = r["liquid_r2_a_90"]
        th = " / ".join(f"{x:.4f}" for x in r["liquid_r2_a_by_theta_third"])
        rows.append(
            f"| {arm} | {r['test_r2']['a']:.4f} | {r['liquid_r2']['a']:.4f} ({lo:.4f}–{hi:.4f}) "
            f"| {r['liquid_rmse_a_mm']:.2f} | {th} | {r['liquid_train_r2_a']:.4f} "
            f"| {r['liquid_r2']['theta']:.4f} / {r['liquid_r2']['b']:.4f} |"
        )
    return head + "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the Table I spectra (table1.nc)")
    ap.add_argument("--work", type=Path, required=True, help="folder for spectra and models")
    ap.add_argument("--n", type=int, default=4000, help="targets of each kind")
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--fixed-ratio", type=float, default=1.04, help="g = h of the fixed arm")
    ap.add_argument("--width", type=int, default=16, help="CNN width")
    ap.add_argument("--epochs", type=int, default=40, help="CNN epochs (one cosine cycle)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--workers", type=int, default=2, help="simulation processes")
    ap.add_argument("--seed", type=int, default=0, help="seed of the target draw")
    ap.add_argument("--out", type=Path, help="write the Markdown table here too")
    args = ap.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"error: no such file: {args.data}")
    from ts_toolkit.modelfile import load_model

    args.work.mkdir(parents=True, exist_ok=True)
    full = xr.open_dataset(args.data).load()
    liq0 = _subset(full, "liquid", args.n, args.seed)
    gas = _subset(full, "gas", args.n, args.seed)
    results: dict[str, dict[str, Any]] = {}
    boots: list[np.ndarray] = []
    for arm in args.arms:
        spectra = args.work / f"liq-{arm}.nc"
        if not spectra.exists():
            t0 = time.perf_counter()
            liquid_spectra(liq0, arm, args.fixed_ratio, args.workers).to_netcdf(spectra)
            print(f"{arm}: simulated {args.n} liquid spectra in {time.perf_counter() - t0:.0f} s")
        ds = arm_dataset(gas, xr.open_dataset(spectra).load(), full.attrs)
        path = args.work / f"contrast-{arm}.tsm"
        if not path.exists():
            train_arm(ds, args.width, args.epochs, args.threads).save(path)
        model = load_model(path)
        results[arm] = arm_report(model, ds, boots)
        print(f"{arm}: {json.dumps(results[arm])}", flush=True)
    table = markdown(results)
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
