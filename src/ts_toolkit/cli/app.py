"""The ``ts-toolkit`` typer application, its consoles and the helpers commands share.

This module defines no command and imports none: the command modules of this package
import :data:`app` and add their commands to it, and :mod:`ts_toolkit.cli` imports them
all (and lets plugins add theirs) to give the complete application.

Module-level imports stay light (typer, rich): ``ts-toolkit plugins`` and ``--help`` must
not pay for numpy/xarray/torch/echopype. Each command imports what it needs.

A user error (:class:`~ts_toolkit.errors.TsToolkitError`) prints ``error: <message>`` on
one line to stderr and exits with status 2; a :class:`~ts_toolkit.errors.TsToolkitWarning`
prints ``warning: <message>`` on one line.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..errors import InputFileError, Interrupted, TsToolkitError, TsToolkitWarning
from ..signals import handle_interrupts

app = typer.Typer(
    name="ts-toolkit",
    help="Broadband target-strength spectra: simulate, learn, and classify echosounder targets.",
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
    """Broadband target-strength spectra: simulate, learn, and classify echosounder targets."""


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


def require_input(path: Path) -> Path:
    """``path`` if it is a readable data file, or a directory that an installed source
    reads as one input (a store such as ``.zarr``); else a one-line InputFileError."""
    if path.is_dir():
        from ..plugins import source_for

        source_for(path)  # raises "not a file" when no source reads the directory
        return path
    return require_file(path)


def one_line(text: object) -> str:
    """``text`` with its white space (line breaks included) folded to single spaces."""
    return " ".join(str(text).split())


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show :class:`TsToolkitWarning` warnings as one ``warning: …`` line on stderr."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, TsToolkitWarning):
            err_console.print(
                f"warning: {one_line(message)}", markup=False, highlight=False, soft_wrap=True
            )
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _is_click_error(exc: Exception) -> bool:
    """A click (or typer's vendored click) ClickException: has a message and an exit code."""
    return hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)


def _click_error(exc: Exception) -> None:
    """Show a bad option or argument as one ``error: ...`` line and exit (status 2).

    ``ts-toolkit CMD`` without its required arguments shows the help, as click does."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        console.print(ctx.get_help(), markup=False, highlight=False)
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    message = one_line(exc.format_message())  # type: ignore[attr-defined]
    command = getattr(ctx, "command_path", None)
    if command and exc.exit_code == EXIT_USER_ERROR:  # type: ignore[attr-defined]
        message += f" (see '{command} --help')"
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(exc.exit_code)  # type: ignore[attr-defined]


def run(application: typer.Typer) -> None:
    """Run ``application``, turning user errors into one line (exit 2) and Ctrl-C or
    SIGTERM into ``error: interrupted`` (exit 130): long work keeps what it finished. A bad
    option value that click itself refuses (``--n abc``) is one line as well."""
    try:
        with handle_interrupts(), one_line_warnings():
            try:
                code = application(standalone_mode=False)  # click's errors come here
            except Exception as exc:
                if not _is_click_error(exc):
                    raise
                _click_error(exc)
        raise SystemExit(code if isinstance(code, int) else 0)  # as click's standalone mode
    except TsToolkitError as exc:
        err_console.print(f"error: {one_line(exc)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except Interrupted as exc:  # a command saying what it kept
        logging.disable(logging.CRITICAL)  # no late complaints from closing libraries
        message = one_line(exc) or "interrupted"
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)
        err_console.print("error: interrupted", markup=False, highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:  # typer ends a command on KeyboardInterrupt with exit 130, silently
        if exc.code == EXIT_INTERRUPTED:
            err_console.print("error: interrupted", markup=False, highlight=False)
        raise
