"""Generate the paper's 30,000-spectrum Table I dataset and record how it went.

Runs `ts-toolkit simulate --out OUT --seed SEED --workers N` (the project's own command;
resumable: if the run is interrupted, run this script again and finished chunks are kept),
then writes docs/dataset-table1.md with the wall time of each sitting, the CPU count, the
number of spectra, spectra with NaN and failed targets.

    python scripts/make_table1_dataset.py                       # all CPUs, work/table1.nc
    python scripts/make_table1_dataset.py --workers 16 --out /data/table1.nc
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def simd_level() -> str:
    """numpy's widest x86 SIMD level on this machine: its maths routines (cbrt for b, among
    others) round the last bit differently at different levels, so it goes in the record."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except (ImportError, AttributeError):  # numpy 1, or its internals moved
        return "unknown"
    levels = ("X86_V4", "X86_V3", "X86_V2")
    if not any(lv in features for lv in levels):  # numpy before 2.4, or not x86
        return "unknown"
    return next((lv for lv in levels if features.get(lv)), "baseline")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=REPO / "work" / "table1.nc")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=None, help="fewer spectra (trial runs)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "dataset-table1.md")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = args.out.with_name(args.out.name + ".sittings.json")
    sittings = json.loads(log.read_text()) if log.exists() else []

    cmd = [sys.executable, "-m", "ts_toolkit", "simulate", "--out", str(args.out)]
    cmd += ["--seed", str(args.seed), "--workers", str(args.workers)]
    if args.n is not None:
        cmd += ["--n", str(args.n)]
    print("$", " ".join(cmd[2:]), flush=True)
    start = time.strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    rc = subprocess.run(cmd).returncode
    wall = time.perf_counter() - t0
    sittings.append({"start": start, "wall_s": round(wall, 1), "workers": args.workers, "exit": rc})
    log.write_text(json.dumps(sittings, indent=1))
    if not args.out.exists():
        raise SystemExit(f"simulate did not finish (exit {rc}); run this script again to resume")

    from ts_toolkit.learn import dataset_fingerprint
    from ts_toolkit.learn.data import legacy_fingerprint
    from ts_toolkit.spectra import read_spectra

    ds = read_spectra(args.out)
    ts = np.ascontiguousarray(ds["TS"].transpose("target", "frequency").values, np.float64)
    n, n_freq = ts.shape
    n_nan = int(np.isnan(ts).any(axis=1).sum())
    ts_sha = hashlib.sha256(ts.tobytes()).hexdigest()[:16]
    kinds = {k: int((ds["kind"].values == k).sum()) for k in ("gas", "liquid")}
    n_failed = int(ds.attrs.get("n_failed_targets", 0))
    warnings = ds.attrs.get("simulator_warnings", "[]")
    version = ds.attrs.get("simulator_version", "?")
    fingerprint = dataset_fingerprint(ds)
    legacy = legacy_fingerprint(ds)
    figure = args.doc.parent / "figures" / "table1-spectra.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    plot = [sys.executable, "-m", "ts_toolkit", "plot-spectra", str(args.out), "--n", "6"]
    subprocess.run([*plot, "--out", str(figure)], check=True)
    total = sum(s["wall_s"] for s in sittings)
    rows = "\n".join(
        f"| {s['start']} | {s['workers']} | {s['wall_s'] / 3600:.2f} h | {s['exit']} |"
        for s in sittings
    )
    text = f"""# The Table I dataset (30,000 spectra)

Generated with `python scripts/make_table1_dataset.py --seed {args.seed}`, i.e.
`ts-toolkit simulate --out {args.out.name} --seed {args.seed}` (the paper's Table I space,
prolate-spheroid simulator), on {platform.machine()} (numpy SIMD level {simd_level()}),
{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}.

| sitting started | workers | wall time | exit status |
|---|---:|---:|---:|
{rows}

Total wall time: **{total / 3600:.2f} h**. Spectra: {n} ({kinds["gas"]} gas, {kinds["liquid"]}
liquid) on {n_freq} frequencies; spectra containing NaN: {n_nan}; failed targets: {n_failed}.

The file (`{args.out.name}`, {args.out.stat().st_size / 1e6:.1f} MB, compressed NetCDF in the
DESIGN.md spectra schema) is not committed. The same command and seed regenerate it; on a
machine whose numpy runs at another SIMD level, the last bit of some labels (b, a) and, rarely,
a TS value by one float32 step can differ (about 1e-16 relative: no physical meaning), which
changes the sha256 below but, almost always, not `dataset_fingerprint`. Checks: sha256 of the
TS values (float64, target × frequency) begins `{ts_sha}`; `dataset_fingerprint` of the
labels (float32; stored in every model trained on it) `{fingerprint}` (float64, as models
saved before 2026-12-02 hold it: `{legacy}`);
simulator version {version}; simulator warnings: `{warnings}`.

Six targets of each kind, `ts-toolkit plot-spectra {args.out.name} --n 6` (the paper's
Figure 1):

![six gas and six liquid spectra of the Table I dataset](figures/{figure.name})

The learners trained on it are compared in [results.md](results.md).
"""
    args.doc.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
