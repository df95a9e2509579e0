"""Shared helpers for the spheroid tests: benchmark loading and tolerance classes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

# Jech et al. (2015) prolate spheroid and medium (target-definitions.toml, echoSMs)
JECH = {"a": 0.07, "b": 0.01, "rho_w": 1026.8, "c_w": 1477.3, "rho_s": 1028.9, "c_s": 1480.3}


def load_table(name: str) -> dict[str, np.ndarray]:
    """Columns of a tests/data CSV (comment lines start with '#'; NA -> NaN)."""
    with open(DATA / name) as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    return {
        key: np.array([np.nan if x == "NA" else float(x) for x in col])
        for key, *col in zip(header, *body, strict=True)
    }


def tolerance(x: np.ndarray, ts: np.ndarray, window: float) -> np.ndarray:
    """Acceptance tolerance per point (the benchmark comparison).

    0.1 dB where the benchmark is within 10 dB of its local maximum (max over +-window),
    0.3 dB on null flanks (10-20 dB down), 1 dB in deeper nulls.
    """
    tol = np.empty_like(ts)
    for i in range(ts.size):
        near = np.abs(x - x[i]) <= window + 1e-9
        depth = np.nanmax(ts[near]) - ts[i]
        tol[i] = 0.1 if depth <= 10.0 else (0.3 if depth <= 20.0 else 1.0)
    return tol
