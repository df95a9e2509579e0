"""Built-in ``ek80`` plugin: EK80 .raw (FM, complex) → single targets → TS(f).

Registers the Source ``ek80`` and the Simulator ``elastic-sphere`` (calibration
spheres). Nothing heavy is imported here: echopype is imported only when a file is
opened, so ``ts-toolkit plugins`` stays fast.
"""

from __future__ import annotations

from typing import Any

from ts_toolkit.hookspecs import hookimpl


@hookimpl
def register_sources(register: Any) -> None:
    from .source import Ek80Source

    register(Ek80Source)


@hookimpl
def register_simulators(register: Any) -> None:
    from .sphere import ElasticSphere

    register(ElasticSphere)
