"""Exact prolate-spheroid and fluid-sphere scattering models (ts-toolkit Simulator plugin).

Registration only: the numba kernels are imported lazily when a model is evaluated.  On
import, cached kernels compiled from other versions of the kernel sources are dropped
(:mod:`._kernel_cache`), so an edited or upgraded installation never runs stale code.
"""

from __future__ import annotations

from ts_toolkit import hookimpl

from ._kernel_cache import ensure_fresh_cache

ensure_fresh_cache()


@hookimpl
def register_simulators(register):  # type: ignore[no-untyped-def]
    """Register the ``prolate-spheroid`` and ``fluid-sphere`` simulators."""
    from .prolate import ProlateSpheroid
    from .sphere import FluidSphere

    register(ProlateSpheroid)
    register(FluidSphere)
