"""Out-of-distribution, coverage and speed checks of a calibrated model (issue 28; numbers
in docs/bundled-model.md and docs/results.md).

For each band set it reports the fraction flagged out of distribution on: fluid-sphere
spectra (``fluid-sphere`` simulator: gas and liquid spheres with Table I's radii and
materials), elastic tungsten-carbide sphere spectra (``elastic-sphere``: the 38.1 mm
calibration sphere in 10 waters and 6 other standard sizes) and pure noise spectra
(independent uniform TS in -100..-30 dB at every frequency, and white Gaussian TS about
-60 dB with sigma 5 dB). It predicts the real 38 kHz FM file (34-45 kHz, with
``allow_partial``), and it times ``predict`` (intervals and OOD score included) on one
CPU core.

    OMP_NUM_THREADS=1 python scripts/trust_checks.py --model src/ts_toolkit/data/default.tsm
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: set before numpy/torch load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from train_default_model import REPORTED_SETS  # noqa: E402  (a script beside this one)

REPO = Path(__file__).resolve().parents[1]
SETS = REPORTED_SETS  # the band sets issue 28 names (scripts/train_default_model.py)
REAL_38 = REPO.parent / "shared" / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"


def spectra_ds(frequency: np.ndarray, ts: np.ndarray):
    import xarray as xr

    return xr.Dataset(
        {"TS": (("target", "frequency"), ts)},
        coords={"target": np.arange(ts.shape[0]), "frequency": frequency},
    )


def fluid_spheres(frequency: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    from ts_toolkit_plugins.spheroid.sphere import fluid_sphere_fbs

    out = []
    for i in range(n):
        if i % 2 == 0:  # gas: Table I's gas Req, density, sound speed
            a, rho, c = rng.uniform(0.1e-3, 5e-3), rng.uniform(2.0, 80.0), 343.0
        else:  # liquid
            a, rho, c = rng.uniform(5e-3, 20e-3), rng.uniform(1037, 1099), rng.uniform(1515, 1605)
        fbs = fluid_sphere_fbs(frequency, a, rho, c, 1027.0, 1500.0)
        out.append(20 * np.log10(np.abs(fbs)))
    return np.array(out)


def wc_spheres(frequency: np.ndarray) -> np.ndarray:
    from ts_toolkit_plugins.ek80.sphere import elastic_sphere_ts

    out = [elastic_sphere_ts(frequency, 0.01905, c_w=c) for c in np.linspace(1450, 1540, 10)]
    for d_mm in (20.0, 22.0, 25.0, 32.0, 57.2, 60.0):
        out.append(elastic_sphere_ts(frequency, d_mm / 2e3))
    return np.array(out)


def noise_spectra(frequency: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    uniform = rng.uniform(-100, -30, (n // 2, frequency.size))
    gauss = rng.normal(-60, 5, (n - n // 2, frequency.size))
    return np.concatenate([uniform, gauss])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", type=Path, default=REPO / "src/ts_toolkit/data/default.tsm")
    ap.add_argument("--table1", type=Path, default=REPO.parent / "shared/data/table1.nc")
    ap.add_argument("--out", type=Path, default=REPO / "work/default/trust-checks.md")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from ts_toolkit.learn.bands import band_mask, parse_band_set
    from ts_toolkit.modelfile import load_model

    model = load_model(args.model)
    model.settings["threads"] = 1
    model.settings["device"] = "cpu"
    f = np.asarray(model.frequency)
    rng = np.random.default_rng(0)
    kinds = {
        "fluid spheres (200)": fluid_spheres(f, 200, rng),
        "WC spheres (16)": wc_spheres(f),
        "pure noise (200)": noise_spectra(f, 200, rng),
    }
    lines = [f"# Trust checks of {args.model.name}", "", "Fraction flagged OOD per band set:", ""]
    lines += ["| band set (kHz) | " + " | ".join(kinds) + " |"]
    lines += ["|---|" + "---:|" * len(kinds)]
    for s in SETS:
        mask = band_mask(f, parse_band_set(s))
        cells = []
        for ts in kinds.values():
            out = model.predict(spectra_ds(f, np.where(mask, ts, np.nan)))
            cells.append(f"{np.asarray(out['ood'].values, bool).mean():.3f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    # speed: Table I test spectra on 45-260 kHz, intervals and OOD included
    from ts_toolkit.spectra import read_spectra

    ds = read_spectra(args.table1)
    test = ds.isel(target=model.split.test[:1000])
    ts = np.asarray(test["TS"].values, dtype=np.float64)
    mask = band_mask(f, parse_band_set("45-90+90-170+160-260"))
    batch = spectra_ds(f, np.where(mask, ts, np.nan))
    model.predict(batch.isel(target=slice(0, 50)))  # warm up
    t0 = time.perf_counter()
    model.predict(batch)
    rate = ts.shape[0] / (time.perf_counter() - t0)
    lines += [
        "",
        f"CPU inference (1 thread, torch + numpy): {rate:.0f} spectra/s on {ts.shape[0]} "
        "Table I test spectra masked to 45-260 kHz, `predict` with intervals and OOD score.",
    ]
    if REAL_38.exists():
        from ts_toolkit.apply import model_detection_threshold, predict_spectra
        from ts_toolkit.plugins import source_for

        threshold = model_detection_threshold(model)
        opts = {"min_ts": threshold[0]} if threshold else {}
        spectra = source_for(REAL_38).open(REAL_38, **opts)
        res = predict_spectra(model, spectra, allow_partial=True)
        p = np.asarray(res["pred_probability"].values, float)
        ood = np.asarray(res["pred_ood"].values, bool)
        low = np.asarray(res["pred_low_coverage"].values, bool)
        cover = np.asarray(res["pred_coverage"].values, float)
        silent = int(((p >= 0.995) & ~ood & ~low).sum())
        names, counts = np.unique(res["pred_kind"].values.astype(str), return_counts=True)
        kinds_pred = ", ".join(f"{n} {int(c)}" for n, c in zip(names, counts, strict=True))
        lines += [
            "",
            f"Real 38 kHz FM file ({REAL_38.name}, min TS {opts.get('min_ts')}): "
            f"{ood.size} targets, coverage {cover.min():.3f}-{cover.max():.3f}, "
            f"{int(low.sum())} below minimum coverage {model.trust.min_coverage:.3f}, "
            f"{int(ood.sum())} flagged OOD ({ood.mean():.3f}), probability "
            f"{p.min():.2f}-{p.max():.2f} (median {np.median(p):.2f}), kinds: {kinds_pred}; "
            f"p >= 0.995 with no flag: {silent}; median 90 % interval of a "
            f"{1e3 * np.median(res['pred_a_low'].values):.1f}-"
            f"{1e3 * np.median(res['pred_a_high'].values):.1f} mm.",
        ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
