"""pluggy hook specifications.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`. Each
``register_*`` hook receives a ``register`` callable, the pattern of simonw's ``llm``::

    from ts_toolkit import hookimpl

    @hookimpl
    def register_simulators(register):
        register(MySimulator)

``register`` takes a *class* (a factory): ts-toolkit instantiates it when the plugin is
asked for by name, so registering costs nothing and listing plugins never imports heavy
libraries (torch, echopype) as long as the plugin module itself imports them lazily.

``register_commands(cli)`` receives the command-line application (a ``typer.Typer``) and
may add commands to it with ``@cli.command(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "ts_toolkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[Any], None]


@hookspec
def register_simulators(register: Register) -> None:
    """Register Simulator classes (subclasses of :class:`ts_toolkit.interfaces.Simulator`)."""


@hookspec
def register_classifiers(register: Register) -> None:
    """Register Classifier classes (subclasses of :class:`ts_toolkit.interfaces.Classifier`)."""


@hookspec
def register_sources(register: Register) -> None:
    """Register Source classes (subclasses of :class:`ts_toolkit.interfaces.Source`)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ts-toolkit`` command line ``cli`` (a ``typer.Typer``).

    Keep the module that defines them light (typer only at import); heavy imports go
    inside each command.
    """
