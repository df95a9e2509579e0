"""ts-toolkit: broadband target-strength spectra, from physics to predictions.

The core is light: importing it loads no physics, torch or echopype code.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import TsToolkitError
from .hookspecs import hookimpl

try:
    __version__ = version("ts-toolkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["TsToolkitError", "__version__", "hookimpl"]
