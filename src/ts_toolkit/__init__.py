"""ts-toolkit: broadband target-strength spectra, from physics to predictions.

The Python API for notebooks and scripts (xarray Datasets in, xarray Datasets out)::

    import ts_toolkit as tt

    spectra = tt.simulate(n=200, seed=1)              # Table I space, in memory
    targets = tt.extract("survey.raw", min_ts=-70)    # single targets x frequency
    result = tt.predict(targets)                      # + pred_kind, pred_a, ... (bundled model)
    model = tt.load_model("my.tsm")                   # a trained model file
    ts = tt.get_simulator("prolate-spheroid").ts(frequency_hz, a=0.02, b=0.004, theta=80,
                                                 rho_s=1060.0, c_s=1540.0)

The core is light: importing it loads no physics, torch or echopype code; the API's
functions are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import TsToolkitError
from .hookspecs import hookimpl

try:
    __version__ = version("ts-toolkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: The public API: name -> module that defines it (imported on first use).
_API = {
    "extract": "api",
    "predict": "api",
    "simulate": "api",
    "get_simulator": "plugins",
    "get_classifier": "plugins",
    "get_source": "plugins",
    "load_model": "modelfile",
    "read_spectra": "spectra",
    "write_spectra": "spectra",
}

__all__ = ["TsToolkitError", "__version__", "hookimpl", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ts_toolkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
