"""The ``ts-toolkit`` command line (typer).

Module-level imports stay light (typer, rich): ``ts-toolkit plugins`` and ``--help`` must
not pay for numpy/xarray/torch/echopype. Each command imports what it needs.

A user error (:class:`~ts_toolkit.errors.TsToolkitError`) prints ``error: <message>`` on
one line to stderr and exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import __version__
from .errors import InputFileError, Interrupted, TsToolkitError
from .signals import handle_interrupts

app = typer.Typer(
    name="ts-toolkit",
    help="Broadband target-strength spectra: simulate, learn, and classify EK80 targets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"ts-toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Broadband target-strength spectra: simulate, learn, and classify EK80 targets."""


def require_file(path: Path) -> Path:
    """``path`` if it is an existing readable file, else a one-line InputFileError."""
    if not path.exists():
        raise InputFileError(f"file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"not a file: {path}")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return path


@app.command("plugins")
def plugins_command() -> None:
    """List installed plugins: simulators, classifiers and sources."""
    from rich.table import Table

    from .plugins import list_plugins

    entries = list_plugins()
    wide = console.width >= 120  # a narrow terminal gets the descriptions below the table
    table = Table(title="ts-toolkit plugins")
    for column in ("name", "kind", "plugin", "package", "version"):
        table.add_column(column, no_wrap=True)
    if wide:
        table.add_column("description")
    for e in entries:
        row = [e.name, e.kind, e.plugin, e.package, e.version]
        table.add_row(*row, *([e.description] if wide else []))
    console.print(table)
    if not wide:
        for e in entries:
            console.print(f"[bold]{e.name}[/bold]: {e.description}", highlight=False)
    if not entries:
        console.print("no plugins installed")


def _register_commands() -> None:
    """Import the command modules; each adds its commands to :data:`app`."""
    from .commands import (  # noqa: F401
        apply_cmds,
        batch_cmds,
        learn_cmds,
        simulate_cmds,
        synth_cmds,
    )


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line.

    SIGTERM stops a command as Ctrl-C does, so long work keeps what it finished.
    """
    try:
        _register_commands()
        with handle_interrupts():
            app()
    except TsToolkitError as exc:
        message = " ".join(str(exc).split())
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except Interrupted as exc:  # a command saying what it kept
        message = " ".join(str(exc).split()) or "interrupted"
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        err_console.print("error: interrupted", markup=False, highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:  # typer ends a command on KeyboardInterrupt with exit 130, silently
        if exc.code == EXIT_INTERRUPTED:
            err_console.print("error: interrupted", markup=False, highlight=False)
        raise
