"""The ground truth of a synthetic survey: a spectra Dataset (NetCDF) and a CSV table.

One row per target: ``ping`` (0-based index), ``ping_time`` (UTC, ISO 8601), ``channel``
(the channel ids that see it, ``;``-separated), ``range`` (m), ``angle_alongship`` and
``angle_athwartship`` (deg), ``kind``, ``a``, ``b`` (m), ``theta`` (deg), ``Req`` (m),
``alpha``, ``rho_s`` (kg/m³), ``c_s`` (m/s), ``rho_w``, ``c_w``, where the target was:
``depth`` (m below the surface: the transducer depth plus the range's vertical component
along the beam), ``latitude``, ``longitude`` (degrees) and ``vessel_log`` (m) of its ping
(the written NMEA fixes interpolated to the ping time, see :mod:`.navigation`), and in the
NetCDF the
``TS`` (dB re 1 m²) used to synthesise its echoes on the survey's frequency grid (Hz); a
survey of animals followed over pings adds ``track`` (the animal's number).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ts_toolkit.outputs import atomic_output
from ts_toolkit.spectra import make_spectra, write_spectra

from . import navigation as nav
from .survey import PARAMETER_NAMES, Survey

CSV_COLUMNS = (
    "target",
    "ping",
    "ping_time",
    "channel",
    "range",
    "angle_alongship",
    "angle_athwartship",
    "kind",
    *PARAMETER_NAMES,
    "depth",
    "latitude",
    "longitude",
    "vessel_log",
)


def _table(survey: Survey) -> dict[str, np.ndarray]:
    t = survey.targets
    channels = ";".join(ch.channel_id for ch in survey.settings.channels)
    cols: dict[str, Any] = {
        "ping": np.array([x.ping for x in t], dtype=np.int64),
        "ping_time": np.array(
            [survey.ping_time(x.ping).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for x in t], dtype=object
        ),
        "channel": np.array([channels] * len(t), dtype=object),
        "range": np.array([x.range for x in t]),
        "angle_alongship": np.array([x.angle_along for x in t]),
        "angle_athwartship": np.array([x.angle_athwart for x in t]),
        "kind": np.array(
            [x.kind if x.kind in ("gas", "liquid") else "unknown" for x in t], dtype=object
        ),
    }
    for name in PARAMETER_NAMES:
        cols[name] = np.array([x.parameters.get(name, np.nan) for x in t], dtype=float)
    sa = np.sin(np.radians(cols["angle_alongship"]))
    st = np.sin(np.radians(cols["angle_athwartship"]))
    cols["depth"] = nav.TRANSDUCER_DEPTH + cols["range"] * np.sqrt(1.0 - sa**2 - st**2)
    last = survey.ping_time(survey.n_pings - 1)
    where = nav.navigation_truth(survey.start_time, last, [survey.ping_time(x.ping) for x in t])
    cols.update(where)
    if any(x.track >= 0 for x in t):  # a survey of animals followed over pings
        cols["track"] = np.array([x.track for x in t], dtype=np.int64)
    return cols


def truth_dataset(survey: Survey, raw_file: str | Path | None = None) -> xr.Dataset:
    """The truth as a spectra Dataset (schema of :mod:`ts_toolkit.spectra`).

    All targets must share one frequency grid (as :func:`make_survey` makes them).
    """
    if not survey.targets:
        raise ValueError("the survey has no targets")
    freq = np.asarray(survey.targets[0].frequency, float)
    if any(not np.array_equal(np.asarray(t.frequency, float), freq) for t in survey.targets):
        raise ValueError("targets have different frequency grids; resample them first")
    ts = np.stack([np.asarray(t.ts, float) for t in survey.targets])
    cols = _table(survey)
    s = survey.settings
    attrs = {
        "title": "ground truth of a synthetic EK80 survey",
        "source": "ts-toolkit synth-raw",
        "seed": int(survey.seed),
        "simulator": survey.simulator or "given TS(f)",
        "target_phase": survey.phase,
        "noise_db": "none" if s.noise_db is None else float(s.noise_db),
        "n_pings": int(survey.n_pings),
        "channels": [ch.channel_id for ch in s.channels],
        "sound_speed": s.environment.c,
        "environment": {
            "temperature": s.environment.temperature,
            "salinity": s.environment.salinity,
            "depth": s.environment.depth,
            "acidity": s.environment.acidity,
        },
        "notes": survey.notes,
    }
    if raw_file is not None:
        attrs["raw_file"] = Path(raw_file).name
    ds = make_spectra(
        freq,
        ts,
        attrs=attrs,
        file=np.array(
            [Path(raw_file).name if raw_file else ""] * len(survey.targets), dtype=object
        ),
        **cols,
    )
    ds["ping"].attrs["long_name"] = "ping index (0-based) in the raw file"
    return ds


def write_truth(
    survey: Survey,
    nc_path: str | Path,
    csv_path: str | Path | None = None,
    raw_file: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write the truth NetCDF and CSV (default: ``nc_path`` with ``.csv``)."""
    nc = Path(nc_path)
    out_csv = Path(csv_path) if csv_path is not None else nc.with_suffix(".csv")
    ds = truth_dataset(survey, raw_file)
    write_spectra(ds, nc)
    cols = _table(survey)
    columns = CSV_COLUMNS + (("track",) if "track" in cols else ())
    with atomic_output(out_csv) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for i in range(len(survey.targets)):
            row: list[Any] = [i]
            for name in columns[1:]:
                v = cols[name][i]
                row.append(_text(name, v))
            w.writerow(row)
    return nc, out_csv


def _text(name: str, value: object) -> object:
    """A CSV cell: 6 significant digits, but latitude/longitude to 1e-7 degrees (1 cm) and
    the vessel log to 1 cm."""
    if not isinstance(value, float):
        return value
    if name in ("latitude", "longitude"):
        return f"{value:.7f}"
    if name == "vessel_log":
        return f"{value:.2f}"
    return f"{value:.6g}"
