"""Simulation throughput: a Table I sample through `ts-toolkit simulate` (run by make bench).

Generates N spectra (default 1,000) of the paper's Table I space with the project's own
command, then writes the measured spectra/s and the projected time for 30,000 spectra to
docs/bench-simulate.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "bench-simulate.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bench.nc"
        cmd = [
            sys.executable,
            "-m",
            "ts_toolkit",
            "simulate",
            "--out",
            str(data),
            "--n",
            str(args.n),
            "--seed",
            "2024",
            "--workers",
            str(args.workers),
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
        import xarray as xr

        with xr.open_dataset(data) as ds:
            n = ds.sizes["target"]
            n_nan = int(np.isnan(ds["TS"].values).any(axis=1).sum())
            kinds = {k: int((ds["kind"].values == k).sum()) for k in ("gas", "liquid")}
    rate = n / wall
    machine = platform.processor() or platform.machine()
    gas_liquid = f"{kinds['gas']} / {kinds['liquid']}"
    hours = 30000 / rate / 3600
    text = f"""# Simulation throughput (make bench)

Measured by `python scripts/bench_simulate.py --n {args.n} --workers {args.workers}`,
which runs `ts-toolkit simulate --n {args.n} --seed 2024 --workers {args.workers}` (Table I
space, 501 frequencies 10-260 kHz, prolate-spheroid simulator, local dask cluster) on this
machine: {os.cpu_count()} CPUs, {machine}, Python {platform.python_version()}.

| spectra | gas / liquid | workers | wall time (s) | spectra/s | spectra with NaN | projected 30,000 |
|---:|---|---:|---:|---:|---:|---:|
| {n} | {gas_liquid} | {args.workers} | {wall:.1f} | {rate:.2f} | {n_nan} | {hours:.2f} h |

Wall time includes starting the dask cluster and compiling the numba kernels once per worker.
"""
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
