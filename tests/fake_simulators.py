"""Cheap simulators for pipeline tests, registered by hand through the plugin manager."""

from __future__ import annotations

import os
import time

import numpy as np

from ts_toolkit import hookimpl
from ts_toolkit.interfaces import ParameterSpec, Simulator

_SPECS = {
    "a": ParameterSpec("m", 0.0, 1.0),
    "b": ParameterSpec("m", 0.0, 1.0),
    "theta": ParameterSpec("degree", 0.0, 90.0),
    "rho_s": ParameterSpec("kg m-3", 0.0, 5000.0),
    "c_s": ParameterSpec("m s-1", 0.0, 5000.0),
}


def toy_ts(f: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """A smooth deterministic function of the parameters (dB)."""
    return (
        -60
        + 20 * np.log10(p["a"][:, None] * 100)
        + 3 * np.sin(f[None, :] * p["b"][:, None] / 300.0)
        + 0.05 * p["theta"][:, None]
        + 0.001 * p["rho_s"][:, None]
    )


class SlowToy(Simulator):
    """Toy spectra, slowly (SLOW_TOY_DELAY seconds per call)."""

    name = "slow-toy"
    version = "1"
    kinds = ("gas", "liquid")
    parameters = _SPECS

    def _ts(self, frequency, **p):
        time.sleep(float(os.environ.get("SLOW_TOY_DELAY", "0.2")))
        return toy_ts(frequency, p)


class FailingToy(Simulator):
    """Toy spectra that fail for targets with theta > 80 deg."""

    name = "failing-toy"
    version = "1"
    kinds = ("gas", "liquid")
    parameters = _SPECS

    def _ts(self, frequency, **p):
        if np.any(p["theta"] > 80):
            raise RuntimeError("toy failure for theta > 80")
        return toy_ts(frequency, p)


@hookimpl
def register_simulators(register):
    register(SlowToy)
    register(FailingToy)


def install() -> None:
    """Register this module as a plugin in the current process."""
    import sys

    from ts_toolkit.plugins import registry

    registry().register_plugin(sys.modules[__name__], name="fake-simulators")
