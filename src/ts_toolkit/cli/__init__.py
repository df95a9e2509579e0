"""The ``ts-toolkit`` command line: the complete typer application.

:mod:`.app` holds the application, its consoles and shared helpers; each command group has
its module here, which adds its commands to the app; installed plugins add theirs through
the ``register_commands(cli)`` hook. Importing this package gives the complete app::

    from ts_toolkit.cli import app   # every command, the plugins' included
"""

from __future__ import annotations

from ..plugins import registry
from . import batch, demo, learning, listing, simulation, targets
from .app import app, one_line_warnings, run

with one_line_warnings():  # a broken plugin is one warning line, not a traceback
    registry().register_commands(app)

__all__ = ["app", "batch", "demo", "learning", "listing", "main", "simulation", "targets"]


def main() -> None:
    """Console-script entry point (``ts-toolkit``)."""
    run(app)
