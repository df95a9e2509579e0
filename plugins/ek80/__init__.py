"""Built-in ``ek80`` plugin: everything about Simrad EK80 data.

Registers the Source ``ek80`` (EK80 .raw, FM complex samples → single targets → TS(f)),
the Simulator ``elastic-sphere`` (calibration spheres) and the commands ``synth-raw`` (a
synthetic EK80 survey with known targets, :mod:`.synth`) and ``sphere-check``. Nothing
heavy is imported here: echopype is imported only when a file is opened, so
``ts-toolkit plugins`` stays fast.
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


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import register

    register(cli)
