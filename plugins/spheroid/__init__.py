"""Exact prolate-spheroid and fluid-sphere scattering models (ts-toolkit Simulator plugin).

Registration only: the numba kernels are imported lazily when a model is evaluated.
"""

from __future__ import annotations

from ts_toolkit import hookimpl


@hookimpl
def register_simulators(register):  # type: ignore[no-untyped-def]
    """Register the ``prolate-spheroid`` and ``fluid-sphere`` simulators."""
    from .prolate import ProlateSpheroid
    from .sphere import FluidSphere

    register(ProlateSpheroid)
    register(FluidSphere)
