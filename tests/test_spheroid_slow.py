"""Slow robustness sweep (run by ``make bench``): Table I draws x full 10-260 kHz grid.

No NaN, no inf and no convergence warning for 200 seeded random targets of both kinds
(100 gas, 100 liquid) plus the corners of Table I (smallest/largest Req and alpha,
theta 0.01 and 90 deg), 501 frequencies each.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from ts_toolkit_plugins.spheroid.prolate import ProlateSpheroid

RHO_W, C_W = 1027.0, 1500.0
FREQ = np.arange(10e3, 260e3 + 1.0, 0.5e3)
assert FREQ.size == 501


def _table_i(kind: str, req: float, alpha: float, theta: float, rho_f: float, c_f: float):
    b = req / alpha ** (1 / 3)
    if kind == "gas":
        rho_s, c_s = rho_f, 343.0
    else:
        rho_s, c_s = RHO_W * rho_f, C_W * c_f
    return {"a": alpha * b, "b": b, "theta": theta, "rho_s": rho_s, "c_s": c_s}


def _draws() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(20240601)
    out = []
    for kind in ("gas", "liquid"):
        for _ in range(100):
            if kind == "gas":
                req, rho_f, c_f = rng.uniform(0.1e-3, 5e-3), rng.uniform(2, 80), 1.0
            else:
                req, rho_f, c_f = (
                    rng.uniform(5e-3, 20e-3),
                    rng.uniform(1.01, 1.07),
                    rng.uniform(1.01, 1.07),
                )
            p = _table_i(kind, req, rng.uniform(1.05, 8.0), rng.uniform(0.01, 90.0), rho_f, c_f)
            out.append((kind, p))
    return out


def _corners() -> list[tuple[str, dict]]:
    out = []
    for kind, reqs, rhos, cs in (
        ("gas", (0.1e-3, 5e-3), (2.0, 80.0), (1.0,)),
        ("liquid", (5e-3, 20e-3), (1.01, 1.07), (1.01, 1.07)),
    ):
        for req, alpha, theta, rho_f, c_f in itertools.product(
            reqs, (1.05, 8.0), (0.01, 90.0), rhos, cs
        ):
            out.append((kind, _table_i(kind, req, alpha, theta, rho_f, c_f)))
    return out


CASES = _draws() + _corners()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_table_i_no_nan_no_warning(case) -> None:
    _, params = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ts = ProlateSpheroid().ts(FREQ, rho_w=RHO_W, c_w=C_W, **params)
    assert ts.shape == (501,)
    assert np.isfinite(ts).all()
    assert ts.max() < 0.0  # dB re 1 m^2: these targets are all far below 1 m^2
