"""Reading options shared by ``extract``, ``predict`` and ``batch``.

A Source declares its options as a dataclass (``ts-toolkit plugins --options NAME`` lists
them); every one of them is reachable as ``-O KEY=VALUE``. The few that every target
source is expected to have get typed shortcuts here: ``--min-ts``, ``--min-range``,
``--max-range`` and ``--channel``. The source validates the names and values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

PANEL = "Reading the file (the source's options)"

MinTs = Annotated[
    float | None,
    typer.Option(
        "--min-ts",
        help="Minimum target strength at the centre frequency, dB re 1 m² (shortcut of "
        "-O min_ts=...; default: the source's for extract, the model's for predict and "
        "batch: the 1st percentile of its training TS values).",
        rich_help_panel=PANEL,
    ),
]
MinRange = Annotated[
    float | None,
    typer.Option("--min-range", help="Minimum range, m (-O min_range=...).", rich_help_panel=PANEL),
]
MaxRange = Annotated[
    float | None,
    typer.Option("--max-range", help="Maximum range, m (-O max_range=...).", rich_help_panel=PANEL),
]
Channels = Annotated[
    list[str] | None,
    typer.Option(
        "--channel",
        help="Only this channel id (repeatable; -O channels=a,b).",
        rich_help_panel=PANEL,
    ),
]
CalibrationFile = Annotated[
    str | None,
    typer.Option(
        "--calibration",
        metavar="FILE",
        help="Calibration file applied instead of the one the input carries (-O "
        "calibration=FILE; the formats each source reads: docs/calibration.md).",
        rich_help_panel=PANEL,
    ),
]
SourceOptionPairs = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-O",
        metavar="KEY=VALUE",
        help="Any option of the source (repeatable); `ts-toolkit plugins --options NAME` "
        "lists them.",
        rich_help_panel=PANEL,
    ),
]


def source_options(
    pairs: list[str] | None,
    min_ts: float | None = None,
    min_range: float | None = None,
    max_range: float | None = None,
    channels: list[str] | None = None,
    calibration: str | None = None,
) -> dict[str, Any]:
    """The source options given on the command line: ``-O`` pairs (as text) and the typed
    shortcuts that were given (a shortcut wins over the same ``-O`` key)."""
    from ..options import parse_pairs

    options: dict[str, Any] = dict(parse_pairs(pairs or [], "-O/--option"))
    shortcuts = {
        "min_ts": min_ts,
        "min_range": min_range,
        "max_range": max_range,
        "channels": tuple(channels) if channels else None,
        # absolute: batch workers may run elsewhere (another folder, a cluster node)
        "calibration": str(Path(calibration).expanduser().resolve()) if calibration else None,
    }
    options.update({k: v for k, v in shortcuts.items() if v is not None})
    return options
