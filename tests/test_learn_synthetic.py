"""A cheap synthetic stand-in for simulated spectra (used by the learner tests) and its checks.

The exact spheroid simulator is slow and owned elsewhere; the learners only need spectra
that depend smoothly and learnably on kind, theta, a and b. ``synthetic_spectra`` gives:

- a geometric level from the projected cross-section, 10·log10((a·b·sinθ)² + (b²·cosθ)²);
- a directivity roll-off −10·log10(1 + (k·a·cosθ)²) and an interference ripple
  2·cos(2·k·a·cosθ) (k = 2πf/1500 m⁻¹), both encoding a·cosθ;
- gas targets: a resonance-like bump at f0 = 500/Req Hz; liquid targets: a Rayleigh-like
  (kReq)⁴ roll-off and a 15 dB lower level;
- Gaussian noise in dB.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import pytest

from ts_toolkit.spectra import make_spectra


@lru_cache(maxsize=16)
def _synthetic(n_targets: int, n_freq: int, seed: int, noise_db: float, f_min: float, f_max: float):
    rng = np.random.default_rng(seed)
    f = np.linspace(f_min, f_max, n_freq)
    kind = np.array(["gas", "liquid"])[rng.permutation(np.arange(n_targets) % 2)]
    theta = rng.uniform(0.0, 90.0, n_targets)
    a = rng.uniform(2e-3, 20e-3, n_targets)
    alpha = rng.uniform(1.05, 8.0, n_targets)
    b = a / alpha
    req = np.cbrt(a * b * b)
    k = 2 * np.pi * f[None, :] / 1500.0
    th = np.radians(theta)[:, None]
    a2, b2, r2 = a[:, None], b[:, None], req[:, None]
    geo = 10 * np.log10((a2 * b2 * np.sin(th)) ** 2 + (b2 * b2 * np.cos(th)) ** 2) + 30.0
    ripple = 2.0 * np.cos(2 * k * a2 * np.cos(th))
    directivity = -10 * np.log10(1.0 + (k * a2 * np.cos(th)) ** 2)
    f0 = 500.0 / r2
    gas = 6.0 / (1.0 + ((f[None, :] - f0) / (0.3 * f0)) ** 2)
    x4 = (k * r2) ** 4
    liquid = 10 * np.log10(x4 / (1.0 + x4)) - 15.0
    is_gas = (kind == "gas")[:, None]
    ts = geo + directivity + ripple + np.where(is_gas, gas, liquid)
    ts = ts + rng.normal(0.0, noise_db, ts.shape)
    return f, ts, dict(kind=kind, theta=theta, a=a, b=b, alpha=alpha, Req=req)


def synthetic_spectra(
    n_targets: int = 400,
    n_freq: int = 64,
    seed: int = 0,
    noise_db: float = 0.3,
    f_min: float = 10e3,
    f_max: float = 260e3,
):
    """A labelled spectra Dataset (see the module docstring); cached, so cheap to reuse."""
    f, ts, variables = _synthetic(n_targets, n_freq, seed, noise_db, f_min, f_max)
    return make_spectra(
        f,
        ts.copy(),
        attrs={"simulator": "synthetic-test"},
        **{k: v.copy() for k, v in variables.items()},
    )


@contextmanager
def entry_point_plugins() -> Iterator[None]:
    """Module-scoped fixtures run before the per-test registry reset of conftest: give them
    a registry loaded from entry points whatever earlier tests left in the environment."""
    from ts_toolkit import plugins

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(plugins.ENV_VAR, raising=False)
        plugins.reset_registry()
        try:
            yield
        finally:
            plugins.reset_registry()


def test_synthetic_spectra_are_valid_reproducible_and_balanced():
    ds = synthetic_spectra(200, 50, seed=3)
    again = synthetic_spectra(200, 50, seed=3)
    other = synthetic_spectra(200, 50, seed=4)
    assert ds.sizes == {"target": 200, "frequency": 50}
    np.testing.assert_array_equal(ds["TS"].values, again["TS"].values)
    assert not np.array_equal(ds["TS"].values, other["TS"].values)
    assert (ds["kind"].values == "gas").sum() == 100
    assert np.isfinite(ds["TS"].values).all()
    assert np.all(ds["a"].values >= ds["b"].values)


def test_synthetic_kinds_differ_in_level():
    ds = synthetic_spectra(400, 64)
    ts = ds["TS"].values
    gas = ts[ds["kind"].values == "gas"].mean()
    liquid = ts[ds["kind"].values == "liquid"].mean()
    assert gas - liquid > 10.0
    liquid_ts = ts[ds["kind"].values == "liquid"]
    assert liquid_ts[:, 5].mean() - liquid_ts[:, 0].mean() > 3.0  # Rayleigh-like rise
