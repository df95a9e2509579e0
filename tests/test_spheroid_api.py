"""The prolate-spheroid Simulator: registration, validation, shapes, NaN-with-warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ts_toolkit.errors import InvalidParameterError
from ts_toolkit_plugins.spheroid.prolate import ProlateSpheroid

GAS = {"a": 0.004, "b": 0.001, "theta": 60.0, "rho_s": 50.0, "c_s": 343.0}


def test_registered_through_entry_point() -> None:
    from ts_toolkit.plugins import get_simulator

    sim = get_simulator("prolate-spheroid")
    assert sim.name == "prolate-spheroid"
    assert set(sim.kinds) == {"gas", "liquid"}
    assert get_simulator("fluid-sphere").name == "fluid-sphere"


def test_plugin_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ts_toolkit_plugins.spheroid as s; "
        "print(any(m.startswith('numba') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_shapes() -> None:
    sim = ProlateSpheroid()
    f = np.array([38e3, 70e3, 120e3])
    one = sim.ts(f, **GAS)
    assert one.shape == (3,) and np.isfinite(one).all()
    many = sim.ts(f, **{**GAS, "theta": [30.0, 60.0]})
    assert many.shape == (2, 3)
    np.testing.assert_allclose(many[1], one, rtol=0, atol=1e-10)
    scalar_f = sim.ts(38e3, **GAS)
    assert scalar_f.shape == (1,)


def test_rigid_and_pr_ignore_interior() -> None:
    sim = ProlateSpheroid()
    f = np.array([38e3])
    r1 = sim.ts(f, a=0.07, b=0.01, theta=90.0, boundary="rigid")
    r2 = sim.ts(f, a=0.07, b=0.01, theta=90.0, rho_s=5.0, c_s=300.0, boundary="rigid")
    assert r1 == pytest.approx(r2)
    pr = sim.ts(f, a=0.07, b=0.01, theta=90.0, boundary="pressure-release")
    assert np.isfinite(pr).all()


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({**GAS, "a": 0.001, "b": 0.002}, "'a'"),
        ({**GAS, "a": 0.001, "b": 0.001}, "'a'"),
        ({**GAS, "b": -0.001}, "'b'"),
        ({**GAS, "theta": 95.0}, "'theta'"),
        ({**GAS, "theta": -1.0}, "'theta'"),
        ({**GAS, "rho_s": float("nan")}, "'rho_s'"),
        ({**GAS, "c_s": 0.0}, "'c_s'"),
    ],
)
def test_invalid_parameters(params: dict, word: str) -> None:
    with pytest.raises(InvalidParameterError, match=word):
        ProlateSpheroid().ts([38e3], **params)


def test_invalid_boundary_and_frequency() -> None:
    with pytest.raises(InvalidParameterError, match="boundary"):
        ProlateSpheroid().ts([38e3], boundary="soft", **GAS)
    with pytest.raises(InvalidParameterError, match="frequency"):
        ProlateSpheroid().ts([-1.0], **GAS)


def test_failure_is_nan_with_warning(monkeypatch) -> None:
    """A frequency without convergence comes back NaN, with a warning naming parameters."""
    from ts_toolkit_plugins.spheroid import prolate

    real = prolate.backscatter_amplitude

    def fake(freq, *args, **kw):
        fbs, ok = real(freq, *args, **kw)
        fbs[1] = complex(np.nan, np.nan)
        ok[1] = False
        return fbs, ok

    monkeypatch.setattr(prolate, "backscatter_amplitude", fake)
    with pytest.warns(RuntimeWarning, match=r"a=0\.004 m, b=0\.001 m, theta=60"):
        ts = ProlateSpheroid().ts([38e3, 70e3, 120e3], **GAS)
    assert np.isnan(ts[1]) and np.isfinite(ts[[0, 2]]).all()


def test_no_warning_normal_case() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ProlateSpheroid().ts(np.linspace(10e3, 260e3, 11), **GAS)


def test_extreme_small_c_is_finite_and_rayleigh() -> None:
    """c0 down to 1.6e-4 (0.4 mm target at 100 Hz): finite, Rayleigh slope 40 dB/decade."""
    sim = ProlateSpheroid()
    f = np.array([100.0, 1e3, 10e3])
    rigid = sim.ts(f, a=0.0004, b=0.0001, theta=45.0, boundary="rigid")
    assert np.isfinite(rigid).all()
    np.testing.assert_allclose(np.diff(rigid), 40.0, atol=0.05)
    gas = sim.ts(f, a=0.0004, b=0.0001, theta=45.0, rho_s=2.0, c_s=343.0)
    assert np.isfinite(gas).all()
    pr = sim.ts(f, a=0.0004, b=0.0001, theta=45.0, boundary="pressure-release")
    np.testing.assert_allclose(np.diff(pr), 0.0, atol=0.01)  # monopole limit
