"""``train`` and ``evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli import app, require_file
from ..errors import TsToolkitError


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(help="Spectra NetCDF file from `simulate`.")],
) -> None:
    """Train a classifier on simulated spectra (not available yet)."""
    require_file(data)
    raise TsToolkitError("'train' is not available in this version of ts-toolkit yet")


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Argument(help="Spectra NetCDF file.")],
) -> None:
    """Compare trained models on the test split (not available yet)."""
    require_file(data)
    raise TsToolkitError("'evaluate' is not available in this version of ts-toolkit yet")
