"""Issue 29's measurements of the ``inversion`` model (numbers in docs/inversion.md).

``--part table``: the Table II analogue on a seeded subsample of the held-out Table I test
split (seed 1): the inversion beside the bundled CNN, on 10-260 and 45-260 kHz, clean and
with 1 dB Gaussian TS noise: accuracy, R² of theta/a/b/alpha, coverage of the 90 %
intervals, the fraction flagged by the misfit, and the inversion's time per target (one
core; median).

``--part coverage``: the coverage of the inversion's 90 % intervals of theta, a and b on the
whole test split (3,000 targets), on both bands, clean and with 1 dB noise.

``--part speed``: CPU seconds per target on 45-260 kHz (``--n`` test targets, one at a time
and in one call).

``--part flagged``: the rate the misfit flags on ``--n`` test spectra with 1 dB noise, each
masked to one of the seven calibration band sets in turn (overall, per band set, near
broadside and oblique).

``--part ood``: the misfit, and the flag, on spectra no spheroid of the space explains:
simulated fluid spheres (gas and liquid, Table I's radii and materials), elastic WC
spheres (the 38.1 mm sphere in 10 waters, 6 other sizes), pure noise, and the real sphere
echoes of the shared EK80 files (WC35 at 90-170 kHz, WC22 and WC57.2 at 34-45 kHz).

    OMP_NUM_THREADS=1 python scripts/bench_inversion.py --part table --n 200
    OMP_NUM_THREADS=1 python scripts/bench_inversion.py --part ood
    OMP_NUM_THREADS=1 python scripts/bench_inversion.py --part coverage
    OMP_NUM_THREADS=1 python scripts/bench_inversion.py --part speed --n 30 --seed 5
    OMP_NUM_THREADS=1 python scripts/bench_inversion.py --part flagged --n 280
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from trust_checks import fluid_spheres, noise_spectra, spectra_ds, wc_spheres  # noqa: E402

BANDS = {"10-260": (10e3, 260e3), "45-260": (45e3, 260e3)}
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def _r2(t: np.ndarray, p: np.ndarray) -> float:
    return float(1 - np.mean((p - t) ** 2) / np.var(t))


def table_part(n: int, seed: int) -> list[dict]:
    import xarray as xr

    from ts_toolkit.learn.evaluation import add_db_noise
    from ts_toolkit.learn.split import split_dataset
    from ts_toolkit.modelfile import load_model, resolve_model

    inv = load_model(resolve_model("inversion"))
    cnn = load_model(resolve_model("default"))
    ds = xr.open_dataset(SHARED / "data" / "table1.nc").load()
    test = split_dataset(ds, 1).test
    pick = np.sort(np.random.default_rng(seed).choice(test, n, replace=False))
    base = ds.isel(target=pick)
    rows = []
    for noise in (0.0, 1.0):
        sub = add_db_noise(base, noise, seed) if noise else base
        for band, (lo, hi) in BANDS.items():
            f = sub["frequency"].values
            masked = sub.copy()
            masked["TS"] = sub["TS"].where((f >= lo) & (f <= hi))
            for label, model in (("inversion", inv), ("cnn", cnn)):
                t0 = time.perf_counter()
                if label == "inversion":
                    times = []
                    outs = []
                    for i in range(n):  # one target at a time: the per-target time
                        s = time.perf_counter()
                        outs.append(model.predict(masked.isel(target=[i])))
                        times.append(time.perf_counter() - s)
                    out = xr.concat(outs, dim="target")
                else:
                    out = model.predict(masked)
                    times = [(time.perf_counter() - t0) / n]
                row = {"model": label, "band_khz": band, "noise_db": noise, "n": n}
                kinds = np.asarray(out["kind"].values).astype(str)
                row["accuracy"] = float((kinds == sub["kind"].values.astype(str)).mean())
                for name in ("theta", "a", "b", "alpha"):
                    row[f"r2_{name}"] = _r2(sub[name].values, np.asarray(out[name].values, float))
                for name in ("theta", "a", "b"):
                    if f"{name}_low" in out:
                        lo_, hi_ = out[f"{name}_low"].values, out[f"{name}_high"].values
                        t = sub[name].values
                        row[f"cover_{name}"] = float(((t >= lo_) & (t <= hi_)).mean())
                if "ood" in out:
                    row["ood_rate"] = float(np.asarray(out["ood"].values, bool).mean())
                if "misfit" in out:
                    row["misfit_median_db"] = float(np.median(out["misfit"].values))
                row["seconds_per_target_median"] = float(np.median(times))
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def coverage_part(seed: int) -> list[dict]:
    """Coverage of the 90 % intervals on the whole held-out test split (the intervals come
    from the library posterior alone, so no refinement is needed to measure them)."""
    import xarray as xr

    from ts_toolkit.learn.data import restrict_to_grid
    from ts_toolkit.learn.evaluation import add_db_noise
    from ts_toolkit.learn.split import split_dataset
    from ts_toolkit.modelfile import load_model, resolve_model

    inv = load_model(resolve_model("inversion"))
    ds = xr.open_dataset(SHARED / "data" / "table1.nc").load()
    test = ds.isel(target=split_dataset(ds, 1).test)
    rows = []
    for noise in (0.0, 1.0):
        sub = add_db_noise(test, noise, seed) if noise else test
        sub = restrict_to_grid(sub, np.asarray(inv.frequency))
        f = sub["frequency"].values
        for band, (lo, hi) in BANDS.items():
            ts = np.where((f >= lo) & (f <= hi), sub["TS"].transpose("target", "frequency"), np.nan)
            res = inv.invert(ts, refine=False)
            row = {"band_khz": band, "noise_db": noise, "n": int(ts.shape[0])}
            for name in ("theta", "a", "b"):
                t = sub[name].values
                hit = (t >= res[f"{name}_low"]) & (t <= res[f"{name}_high"])
                row[f"cover_{name}"] = float(hit.mean())
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def speed_part(n: int, seed: int) -> list[dict]:
    """CPU time (``time.process_time``: one process; run with OMP_NUM_THREADS=1) per target
    on 45-260 kHz, ``n`` test targets predicted one at a time, and all in one call."""
    import xarray as xr

    from ts_toolkit.learn.split import split_dataset
    from ts_toolkit.modelfile import load_model, resolve_model

    inv = load_model(resolve_model("inversion"))
    ds = xr.open_dataset(SHARED / "data" / "table1.nc").load()
    test = split_dataset(ds, 1).test
    sub = ds.isel(target=np.sort(np.random.default_rng(seed).choice(test, n, replace=False)))
    f = sub["frequency"].values
    sub["TS"] = sub["TS"].where((f >= 45e3) & (f <= 260e3))
    inv.predict(sub.isel(target=[0]))  # compiled code loaded before timing
    cpu, wall = [], []
    for i in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        inv.predict(sub.isel(target=[i]))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    c0 = time.process_time()
    inv.predict(sub)
    batched = (time.process_time() - c0) / n
    row = {
        "band_khz": "45-260",
        "n": n,
        "cpu_s_median": float(np.median(cpu)),
        "cpu_s_p90": float(np.quantile(cpu, 0.9)),
        "wall_s_median": float(np.median(wall)),
        "cpu_s_per_target_batched": float(batched),
        "load_average_1min_end": os.getloadavg()[0],
    }
    print(json.dumps(row), flush=True)
    return [row]


def _real_sphere_spectra() -> dict[str, np.ndarray | tuple]:
    """(frequency, TS) of the sphere echoes of the shared real files, via the CLI."""
    import xarray as xr

    real = SHARED / "ek80" / "real"
    cases = {
        "WC35 (90-170 kHz)": ("CRIMAC_SphereCentre.json", 4.3, 4.9),
        "WC22 (34-45 kHz)": ("pyEcholabEK80data.json", 14.0, 14.6),
        "WC57.2 (34-45 kHz)": ("pyEcholabEK80data.json", 19.0, 19.7),
    }
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (src, r0, r1) in cases.items():
            raw = Path(tmp) / (Path(src).stem + ".raw")
            if not raw.exists():
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "ts_toolkit",
                        "ek80-json-to-raw",
                        str(real / src),
                        "--out",
                        str(raw),
                    ],
                    check=True,
                    capture_output=True,
                )
            nc = Path(tmp) / f"{name.split()[0]}.nc"
            subprocess.run(
                [sys.executable, "-m", "ts_toolkit", "extract", str(raw), "--out", str(nc), "--min-range", str(r0),
                 "--max-range", str(r1), "--min-ts", "-60"],
                check=True,
                capture_output=True,
            )  # fmt: skip
            ds = xr.open_dataset(nc).load()
            best = int(np.nanargmax(np.nanmedian(ds["TS"].values, axis=1)))
            out[name] = (ds["frequency"].values, ds["TS"].values[best])
    return out


def ood_part(seed: int) -> list[dict]:
    import xarray as xr

    from ts_toolkit.apply import predict_spectra
    from ts_toolkit.modelfile import load_model, resolve_model

    inv = load_model(resolve_model("inversion"))
    rng = np.random.default_rng(seed)
    f = inv.frequency
    rows = []
    for band, (lo, hi) in {**BANDS, "90-170": (90e3, 170e3), "34-45": (34e3, 45e3)}.items():
        keep = (f >= lo) & (f <= hi)
        sets = {
            "fluid spheres (20)": fluid_spheres(f, 20, rng),
            "WC spheres (16)": wc_spheres(f),
            "noise (20)": noise_spectra(f, 20, rng),
        }
        for name, ts in sets.items():
            out = inv.predict(spectra_ds(f, np.where(keep, ts, np.nan)))
            row = {
                "set": name,
                "band_khz": band,
                "flagged": float(np.asarray(out["ood"].values, bool).mean()),
                "misfit_median_db": float(np.median(out["misfit"].values)),
                "misfit_min_db": float(np.min(out["misfit"].values)),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    for name, (freq, ts) in _real_sphere_spectra().items():
        ds = xr.Dataset(
            {"TS": (("target", "frequency"), ts[None, :])},
            coords={"target": [0], "frequency": freq},
        )
        res = predict_spectra(inv, ds, allow_partial=True)
        row = {
            "set": f"real {name}",
            "band_khz": "measured",
            "flagged": float(bool(res["pred_ood"].values[0])),
            "misfit_median_db": float(res["pred_misfit"].values[0]),
            "misfit_min_db": float(res["pred_misfit"].values[0]),
            "kind": str(res["pred_kind"].values[0]),
            "theta_deg": float(res["pred_theta"].values[0]),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    thresholds = {
        "misfit_threshold_db": inv.misfit_threshold_db_,
        "misfit_threshold_broadside_db": inv.misfit_threshold_broadside_db_,
        "broadside_deg": inv.settings["broadside_deg"],
    }
    print(json.dumps(thresholds), flush=True)
    return rows


def flagged_part(n: int, seed: int) -> list[dict]:
    """The misfit flag on ``n`` held-out Table I test spectra (seed 1 split) with 1 dB
    Gaussian TS noise, each masked to one of the seven calibration band sets in turn (as
    the thresholds were set on validation spectra): the rate flagged, overall, per band
    set, and for fits near broadside and oblique."""
    import xarray as xr

    from ts_toolkit.learn.split import split_dataset
    from ts_toolkit.modelfile import load_model, resolve_model
    from ts_toolkit_plugins.inversion.learner import CALIBRATION_BAND_SETS, noisy_masked

    inv = load_model(resolve_model("inversion"))
    ds = xr.open_dataset(SHARED / "data" / "table1.nc").load()
    test = ds.isel(target=split_dataset(ds, 1).test).isel(frequency=slice(None, None, 2))
    ts = np.asarray(test["TS"].transpose("target", "frequency").values, float)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(ts.shape[0], n, replace=False))
    noisy = noisy_masked(ts[pick], 1.0, inv.library_.frequency, rng)
    out = inv.predict(spectra_ds(inv.library_.frequency, noisy))
    flag = np.asarray(out["ood"].values, bool)
    near = out["theta"].values >= float(inv.settings["broadside_deg"])
    rows = [{"set": "all", "n": n, "flagged": float(flag.mean())}]
    rows.append(
        {"set": "fits near broadside", "n": int(near.sum()), "flagged": float(flag[near].mean())}
    )
    rows.append(
        {"set": "oblique fits", "n": int((~near).sum()), "flagged": float(flag[~near].mean())}
    )
    for k, name in enumerate(CALIBRATION_BAND_SETS):
        sel = np.arange(n) % len(CALIBRATION_BAND_SETS) == k
        rows.append({"set": name, "n": int(sel.sum()), "flagged": float(flag[sel].mean())})
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--part", choices=("table", "ood", "coverage", "speed", "flagged"), required=True
    )
    ap.add_argument("--n", type=int, default=200, help="test targets (table part)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = ap.parse_args()
    parts = {"table": lambda: table_part(args.n, args.seed), "ood": lambda: ood_part(args.seed)}
    parts["coverage"] = lambda: coverage_part(args.seed)
    parts["speed"] = lambda: speed_part(args.n, args.seed)
    parts["flagged"] = lambda: flagged_part(args.n, args.seed)
    rows = parts[args.part]()
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
