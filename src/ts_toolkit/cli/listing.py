"""``plugins``: what is installed, and the options a plugin declares."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app, console


@app.command("plugins")
def plugins_command(
    options: Annotated[
        str | None,
        typer.Option(
            "--options",
            metavar="NAME",
            help="List the options of the source or classifier NAME (for -O/--set KEY=VALUE).",
        ),
    ] = None,
) -> None:
    """List installed plugins: simulators, classifiers and sources."""
    if options is not None:
        _print_options(options)
        return
    from rich.table import Table

    from ..plugins import list_plugins

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


def _print_options(name: str) -> None:
    """The options table of the source or classifier ``name``."""
    from rich.table import Table

    from ..errors import PluginNotFoundError
    from ..options import NoOptions, describe_options
    from ..plugins import registry

    found = [
        (kind, registry().entries(kind)[name])
        for kind in ("source", "classifier")
        if name in registry().entries(kind)
    ]
    if not found:
        known = sorted({n for kind in ("source", "classifier") for n in registry().entries(kind)})
        raise PluginNotFoundError(
            f"no source or classifier named {name!r}; installed: {', '.join(known) or 'none'}"
        )
    for kind, entry in found:
        infos = describe_options(getattr(entry.factory, "Options", NoOptions))
        flag = "-O/--option" if kind == "source" else "--set"
        table = Table(title=f"options of the {kind} {name!r} ({flag} KEY=VALUE)")
        for column in ("option", "type", "default", "unit", "description"):
            table.add_column(column, no_wrap=column != "description")
        for info in infos:
            table.add_row(info.name, info.type, repr(info.default), info.unit, info.help)
        console.print(table)
        if not infos:
            console.print(f"the {kind} {name!r} takes no options")
