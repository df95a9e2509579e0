"""Example ts-toolkit plugin: a Source for TS(f) measured elsewhere, as a CSV table.

The file holds one target per row: a header ``target,range_m,<f1>,<f2>,...`` whose
frequency columns are in kHz, then TS in dB re 1 m² (empty: not measured), e.g. what a
spreadsheet or another program exported::

    target,range_m,38,39,40
    fish-1,12.5,-52.1,-51.8,
    fish-2,20.1,-60.3,-59.9,-61.0

``ts-toolkit extract/predict/batch`` read it like any other file (``predict table.csv``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ts_toolkit import hookimpl
from ts_toolkit.errors import InputFileError
from ts_toolkit.interfaces import Source
from ts_toolkit.options import option

HEADER = ("target", "range_m")


@dataclass(frozen=True)
class CsvOptions:
    """Options of the ``csv`` source."""

    min_ts: float = option(-200.0, "Drop targets whose strongest TS is below this.", unit="dB")
    min_range: float = option(0.0, "Drop targets nearer than this.", unit="m")
    max_range: float | None = option(None, "Drop targets farther than this.", unit="m")


class CsvSource(Source):
    """TS(f) tables in CSV: one target per row, frequency columns in kHz."""

    name: ClassVar[str] = "csv"
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    Options: ClassVar[type] = CsvOptions

    def can_open(self, path):
        try:
            with open(path, newline="") as fh:
                return tuple(next(csv.reader(fh), [])[:2]) == HEADER
        except (OSError, UnicodeDecodeError):
            return False

    def _open(self, path: Path, options: CsvOptions):
        from ts_toolkit.spectra import make_spectra

        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        try:
            frequency = np.array([float(v) * 1e3 for v in rows[0][2:]])
            names = [r[0] for r in rows[1:]]
            ranges = np.array([float(r[1]) for r in rows[1:]])
            ts = np.array([[float(v) if v else np.nan for v in r[2:]] for r in rows[1:]])
        except (ValueError, IndexError) as exc:
            raise InputFileError(f"{path}: not a TS(f) table: {exc}") from exc
        if ts.shape != (len(names), frequency.size):
            raise InputFileError(f"{path}: every row needs one TS per frequency column")
        keep = (np.nanmax(np.where(np.isnan(ts), -np.inf, ts), axis=1) >= options.min_ts) & (
            ranges >= options.min_range
        )
        if options.max_range is not None:
            keep &= ranges <= options.max_range
        return make_spectra(
            frequency,
            ts[keep].reshape(-1, frequency.size),
            attrs={"source": self.name, "source_file": str(path)},
            file=np.array([path.name] * int(keep.sum()), dtype=object),
            label=np.array(names, dtype=object)[keep],
            range=ranges[keep],
        )


@hookimpl
def register_sources(register):
    register(CsvSource)
