"""EK80 data already converted by echopype: ``.zarr`` stores, EchoData ``.nc`` files and
in-memory ``EchoData`` objects.

echopype's EK80 converter (``echopype.open_raw(..., sonar_model="EK80")`` then
``to_zarr``/``to_netcdf``) keeps everything the processing chain needs: the complex samples
(``Sonar/Beam_group1`` ``backscatter_r``/``backscatter_i``), the per-ping transmit
parameters, the filter stages and the calibration table (``Vendor_specific``) and the
environment. The reader (:mod:`.reader`) builds its pings from an ``EchoData`` whatever its
origin, so these inputs go through the same chain as a ``.raw`` file.

The checks here (:func:`is_ek80_zarr`, :func:`is_ek80_netcdf`) are cheap and import no
echopype: they read the ``sonar_model`` attribute of the ``Sonar`` group.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from ts_toolkit.errors import InputFileError

#: The ``sonar_model`` echopype writes for EK80 data.
SONAR_MODEL = "EK80"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _zarr_group_attrs(store: Path, group: str) -> dict[str, Any] | None:
    """The attributes of ``group`` in the zarr store ``store`` (format 2: ``.zattrs``,
    format 3: ``zarr.json``), or None when it has none readable."""
    folder = store / group
    try:
        if (folder / ".zattrs").is_file():
            return json.loads((folder / ".zattrs").read_text())
        if (folder / "zarr.json").is_file():
            return json.loads((folder / "zarr.json").read_text()).get("attributes", {})
    except (OSError, ValueError):
        return None
    return None


def zarr_sonar_model(path: str | Path) -> str | None:
    """The ``sonar_model`` of an echopype ``.zarr`` store, or None when ``path`` is not one."""
    p = Path(path)
    if not p.is_dir():
        return None
    attrs = _zarr_group_attrs(p, "Sonar")
    model = attrs.get("sonar_model") if attrs else None
    return str(model) if model is not None else None


def netcdf_sonar_model(path: str | Path) -> str | None:
    """The ``sonar_model`` of an echopype EchoData NetCDF file, or None when ``path`` is not
    one (not NetCDF-4/HDF5, or no ``Sonar`` group with that attribute)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            if fh.read(8) != HDF5_SIGNATURE:
                return None
    except OSError:
        return None
    import netCDF4

    try:
        with netCDF4.Dataset(p) as nc:
            sonar = nc.groups.get("Sonar")
            if sonar is None or "sonar_model" not in sonar.ncattrs():
                return None
            return str(sonar.getncattr("sonar_model"))
    except (OSError, RuntimeError, ValueError):
        return None


def is_ek80_zarr(path: str | Path) -> bool:
    """True for a ``.zarr`` store (a directory) written by echopype from EK80 data."""
    p = Path(path)
    return p.suffix.lower() == ".zarr" and zarr_sonar_model(p) == SONAR_MODEL


def is_ek80_netcdf(path: str | Path) -> bool:
    """True for a NetCDF file written by echopype (``EchoData.to_netcdf``) from EK80 data."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() == ".nc" and netcdf_sonar_model(p) == SONAR_MODEL


def is_echodata(obj: Any) -> bool:
    """True when ``obj`` is an echopype ``EchoData`` (checked by its class, so echopype is
    not imported for an object that cannot be one)."""
    return any(
        c.__name__ == "EchoData" and c.__module__.startswith("echopype") for c in type(obj).__mro__
    )


def open_converted(path: str | Path) -> Any:
    """``echopype.open_converted`` with its chatter silenced; a store or file echopype cannot
    open becomes a one-line :class:`InputFileError`."""
    import echopype

    p = Path(path)
    gc.collect()  # EchoData holds reference cycles (see reader.open_echodata)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.getLogger("echopype").setLevel(logging.ERROR)
            return echopype.open_converted(str(p))
    except Exception as exc:  # echopype, xarray and zarr raise many kinds on bad input
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        version = getattr(echopype, "__version__", "?")
        raise InputFileError(
            f"cannot open {p} with echopype {version} (damaged, or written by an echopype "
            f"version this one cannot read): {msg}"
        ) from exc


def sonar_model(ed: Any) -> str:
    """The ``sonar_model`` an ``EchoData`` records ('' when none)."""
    model = getattr(ed, "sonar_model", None)
    if not model:
        try:
            model = ed["Sonar"].attrs.get("sonar_model")
        except Exception:  # a damaged EchoData may lack the group
            model = None
    return str(model or "")


def check_ek80(ed: Any, label: str) -> None:
    """Raise a one-line :class:`InputFileError` unless ``ed`` holds EK80 data with what the
    chain needs: a beam group with complex samples and the ``Vendor_specific`` group."""
    model = sonar_model(ed)
    if model != SONAR_MODEL:
        raise InputFileError(
            f"{label}: echopype data of a {model or 'unknown'} sonar; the ek80 source reads "
            f"only EK80 data (sonar_model {SONAR_MODEL})"
        )
    groups = list(getattr(ed, "group_paths", []))
    if not any("Beam_group" in g for g in groups):
        raise InputFileError(
            f"{label}: damaged echopype EK80 data: no beam group (Sonar/Beam_group1)"
        )
    if ed["Vendor_specific"] is None:
        raise InputFileError(
            f"{label}: damaged echopype EK80 data: no Vendor_specific group (filters, calibration)"
        )


def source_label(ed: Any) -> str:
    """A name for an in-memory ``EchoData``: the file echopype converted it from (its
    ``Provenance`` group), else ``EchoData``."""
    try:
        names = ed["Provenance"]["source_filenames"].values
        if names.size:
            return Path(str(names.ravel()[0])).name
    except Exception:  # no provenance: the name is only a label
        pass
    return "EchoData"
