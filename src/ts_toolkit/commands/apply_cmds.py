"""``extract``, ``predict`` and ``batch``: from EK80 files to classified targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli import app, require_file
from ..errors import TsToolkitError


@app.command("predict")
def predict_command(
    raw: Annotated[Path, typer.Argument(help="EK80 .raw file.")],
) -> None:
    """Detect single targets in an EK80 file and classify them (not available yet)."""
    require_file(raw)
    raise TsToolkitError("'predict' is not available in this version of ts-toolkit yet")


@app.command("batch")
def batch_command(
    inputs: Annotated[list[Path], typer.Argument(help="Files, directories or globs.")],
) -> None:
    """Process a whole cruise of EK80 files (not available yet)."""
    raise TsToolkitError("'batch' is not available in this version of ts-toolkit yet")
