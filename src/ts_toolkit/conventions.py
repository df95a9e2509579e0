"""CF conventions of the NetCDF files the toolkit writes, and provenance for CSV outputs.

In memory a level keeps its decibel units (``TS`` in ``"dB re 1 m2"``, as the spectra
schema requires). On disk such a variable has ``units = "1"`` (CF's canonical units for
``acoustic_target_strength_in_sea_water``; UDUNITS has no decibel) and keeps its decibel
reference in ``level_units``; :func:`from_cf` restores it on reading, so a written file
reads back identical. :func:`to_cf` also gives every variable a ``long_name``, a
``_FillValue`` of NaN to floating-point data variables only (none on coordinates) and the
``Conventions`` attribute. See ``docs/outputs.md``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

CF_VERSION = "CF-1.10"
#: Attribute holding a level's decibel units in a file (its ``units`` there are "1").
LEVEL_UNITS = "level_units"

#: CF standard names of variables the toolkit writes (CF standard name table v93).
STANDARD_NAMES: dict[str, str] = {
    "TS": "acoustic_target_strength_in_sea_water",
    "TS_centre": "acoustic_target_strength_in_sea_water",
    "frequency": "sound_frequency",
    "ping_time": "time",
    "latitude": "latitude",
    "longitude": "longitude",
    "depth": "depth",
    "c_w": "speed_of_sound_in_sea_water",
    "rho_w": "sea_water_density",
}
#: Extra CF attributes of some variables.
EXTRA_ATTRS: dict[str, dict[str, str]] = {"depth": {"positive": "down"}}


def cf_attrs(name: str) -> dict[str, str]:
    """The CF attributes (``standard_name``, ``positive``) the toolkit gives ``name``."""
    attrs = dict(EXTRA_ATTRS.get(name, {}))
    if name in STANDARD_NAMES:
        attrs["standard_name"] = STANDARD_NAMES[name]
    return attrs


def _is_level(units: Any) -> bool:
    return isinstance(units, str) and units.split(" ", 1)[0] == "dB"


def to_cf(ds: xr.Dataset) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """``ds`` as written to NetCDF (a shallow copy; ``ds`` is unchanged) and the encoding
    of its variables: decibel units as ``"1"`` + ``level_units``, a ``long_name`` for
    every variable (its name where it had none), ``_FillValue`` NaN on floating-point data
    variables and none on coordinates, ``Conventions`` naming :data:`CF_VERSION`."""
    out = ds.copy(deep=False)
    encoding: dict[str, dict[str, Any]] = {}
    for name in list(out.variables):
        var = out[name].variable
        attrs = dict(var.attrs)
        if _is_level(attrs.get("units")):
            attrs[LEVEL_UNITS] = attrs["units"]
            attrs["units"] = "1"
        attrs.setdefault("long_name", str(name).replace("_", " "))
        var.attrs = attrs
        enc: dict[str, Any] = {}
        if name in out.coords or name in out.dims:
            enc["_FillValue"] = None
        elif var.dtype.kind == "f":
            enc["_FillValue"] = np.nan
        elif var.dtype.kind in "iu":
            enc["_FillValue"] = None
        encoding[str(name)] = enc
    conventions = str(out.attrs.get("Conventions", ""))
    if "CF-" not in conventions:
        out.attrs["Conventions"] = f"{CF_VERSION} {conventions}".strip()
    return out, encoding


def from_cf(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`to_cf`'s units swap: a variable with ``level_units`` gets them back as
    its ``units`` (in place; returns ``ds``)."""
    for name in list(ds.variables):
        attrs = ds[name].attrs
        if LEVEL_UNITS in attrs:
            attrs["units"] = attrs.pop(LEVEL_UNITS)
    return ds


def file_sha256(path: str | Path) -> str:
    """The SHA-256 checksum (hex) of a file's bytes, read in blocks; of a directory (a
    store such as ``.zarr``), of every file below it in sorted order, each preceded by its
    relative path (POSIX), so that renaming or moving a file inside changes it too."""
    p = Path(path)
    if p.is_dir():
        digest = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            digest.update(f.relative_to(p).as_posix().encode() + b"\0")
            digest.update(file_sha256(f).encode())
        return digest.hexdigest()
    with open(p, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def provenance_sidecar(csv_path: str | Path) -> Path:
    """Where the provenance of a CSV table is written: ``<name>.provenance.json``."""
    p = Path(csv_path)
    return p.with_name(p.name + ".provenance.json")


def write_provenance_sidecar(csv_path: str | Path, attrs: dict[str, Any]) -> Path:
    """Write ``attrs`` (a Dataset's global attributes: software, model, settings, input
    files and checksums) as JSON beside the CSV table ``csv_path`` (which stays a plain
    table any CSV reader reads); returns the sidecar's path."""
    from .outputs import atomic_output

    out = provenance_sidecar(csv_path)
    record = {"describes": Path(csv_path).name}
    for key, value in attrs.items():
        if isinstance(value, str):
            try:
                value = json.loads(value) if value[:1] in "[{" else value
            except ValueError:
                pass
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        record[key] = value
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return out
