"""The TS(f) data model: xarray Datasets of spectra, their schema, and NetCDF4 I/O.

A spectra Dataset has dims ``target`` and ``frequency`` (Hz, float64, strictly
increasing) and a variable ``TS(target, frequency)`` in dB re 1 m² (NaN where a frequency
was not measured). Per-target variables carry SI units in their ``units`` attribute.
Global attributes hold provenance. :func:`validate_spectra` is the one place that checks
this; every reader calls it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from .conventions import cf_attrs, from_cf, to_cf
from .errors import InputFileError, SpectraValidationError

CONVENTIONS = "CF-1.10 ts-toolkit-spectra-1"
TS_UNITS = "dB re 1 m2"

# Per-target variables the schema knows, with their required units and a description.
TARGET_VARIABLES: dict[str, tuple[str, str]] = {
    "a": ("m", "semi-major axis"),
    "b": ("m", "semi-minor axis"),
    "theta": ("degree", "incident angle to the major axis (90 = broadside)"),
    "Req": ("m", "equivalent spherical radius"),
    "alpha": ("1", "aspect ratio a/b"),
    "rho_s": ("kg m-3", "target density"),
    "c_s": ("m s-1", "target sound speed"),
    "rho_w": ("kg m-3", "water density"),
    "c_w": ("m s-1", "water sound speed"),
    "kind": ("", "target kind: gas or liquid"),
    "file": ("", "source file"),
    "channel": ("", "echosounder channel"),
    "ping_time": ("", "ping time (UTC)"),
    "range": ("m", "range from the transducer"),
    "angle_alongship": ("degree", "split-beam alongship angle"),
    "angle_athwartship": ("degree", "split-beam athwartship angle"),
    "depth": ("m", "depth of the target below the sea surface"),
    "latitude": ("degrees_north", "latitude of the vessel at the ping"),
    "longitude": ("degrees_east", "longitude of the vessel at the ping"),
    "vessel_log": ("m", "vessel log (distance through the water) at the ping"),
    "ping_number": ("", "number of the ping in its file (0-based; -1: unknown)"),
}
KIND_VALUES = ("gas", "liquid")


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def provenance(**extra: Any) -> dict[str, Any]:
    """Global attributes naming the software, time and anything given (JSON-encoded if
    not a NetCDF attribute type)."""
    from . import __version__

    attrs: dict[str, Any] = {
        "Conventions": CONVENTIONS,
        "software_name": "ts-toolkit",
        "software_version": __version__,
        "date_created": now_iso(),
        "history": f"created by ts-toolkit {__version__} (at date_created)",
        "title": "target strength spectra TS(f)",
    }
    for key, value in extra.items():
        attrs[key] = to_attr(value)
    return attrs


def to_attr(value: Any) -> Any:
    """A NetCDF-storable attribute value: str, int, float or a 1-D numeric array.

    Mappings, sequences of strings and ``None`` are stored as JSON text.
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "if" and value.ndim == 1:
        return value
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return np.asarray(value)
    return json.dumps(value, default=str, sort_keys=True)


def input_warnings(ds: xr.Dataset) -> list[str]:
    """The warnings a source recorded about its input (attribute ``warnings``: a JSON list
    of one-line messages, e.g. pings dropped from a damaged file); [] when none."""
    return _messages(ds, "warnings")


def input_notes(ds: xr.Dataset) -> list[str]:
    """The notes a source recorded about its input (attribute ``input_notes``: a JSON list of
    one-line messages that are not a loss of data, e.g. a file without navigation, whose
    targets have no position); [] when none."""
    return _messages(ds, "input_notes")


def _messages(ds: xr.Dataset, key: str) -> list[str]:
    value = ds.attrs.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def make_spectra(
    frequency: npt.ArrayLike,
    ts: npt.ArrayLike,
    attrs: Mapping[str, Any] | None = None,
    **target_variables: npt.ArrayLike,
) -> xr.Dataset:
    """Build a validated spectra Dataset.

    ``frequency`` in Hz (1-D), ``ts`` in dB re 1 m² with shape (n_target, n_frequency) or
    (n_frequency,) for one target; each keyword is a per-target variable (length
    n_target), given units from :data:`TARGET_VARIABLES` when it is a known name.
    ``attrs`` are added to the provenance attributes.
    """
    f = np.asarray(frequency, dtype=np.float64)
    values = np.asarray(ts)
    if values.ndim == 1:
        values = values[np.newaxis, :]
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    n_target = values.shape[0]
    ds = xr.Dataset(
        {
            "TS": (
                ("target", "frequency"),
                values,
                {"units": TS_UNITS, "long_name": "target strength", **cf_attrs("TS")},
            )
        },
        coords={
            "target": ("target", np.arange(n_target, dtype=np.int64), {"long_name": "target"}),
            "frequency": (
                "frequency",
                f,
                {"units": "Hz", "long_name": "frequency", **cf_attrs("frequency")},
            ),
        },
        attrs=provenance(**dict(attrs or {})),
    )
    for name, data in target_variables.items():
        arr = np.asarray(data)
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        units, long_name = TARGET_VARIABLES.get(name, (None, name))
        var_attrs = {"long_name": long_name, **cf_attrs(name)}
        if units:
            var_attrs["units"] = units
        ds[name] = xr.Variable(("target",), np.broadcast_to(arr, (n_target,)).copy(), var_attrs)
    return validate_spectra(ds)


def _fail(origin: str, message: str) -> SpectraValidationError:
    return SpectraValidationError(f"{origin}: {message}")


def validate_spectra(ds: xr.Dataset, origin: str = "spectra") -> xr.Dataset:
    """Check ``ds`` against the spectra schema; return it or raise naming what is wrong.

    ``origin`` (e.g. a file name) starts the error message.
    """
    if not isinstance(ds, xr.Dataset):
        raise _fail(origin, f"expected an xarray.Dataset, got {type(ds).__name__}")
    if "TS" not in ds.data_vars:
        raise _fail(origin, "variable 'TS' is missing")
    ts = ds["TS"]
    if ts.dims != ("target", "frequency"):
        raise _fail(origin, f"variable 'TS' has dims {ts.dims}, expected ('target', 'frequency')")
    if ts.dtype.kind != "f":
        raise _fail(origin, f"variable 'TS' must be floating point, got {ts.dtype}")
    if ts.attrs.get("units") != TS_UNITS:
        raise _fail(
            origin, f"variable 'TS' has units {ts.attrs.get('units')!r}, expected {TS_UNITS!r}"
        )
    if np.isinf(ts.values).any():
        raise _fail(origin, "variable 'TS' contains infinite values (use NaN for missing)")
    if "frequency" not in ds.coords:
        raise _fail(origin, "coordinate 'frequency' is missing")
    freq = ds["frequency"]
    if freq.attrs.get("units") != "Hz":
        raise _fail(
            origin, f"coordinate 'frequency' has units {freq.attrs.get('units')!r}, expected 'Hz'"
        )
    fv = np.asarray(freq.values)
    if fv.dtype.kind != "f" or not np.all(np.isfinite(fv)) or np.any(fv <= 0):
        raise _fail(origin, "coordinate 'frequency' must be finite positive floats (Hz)")
    if fv.size > 1 and not np.all(np.diff(fv) > 0):
        raise _fail(origin, "coordinate 'frequency' is not strictly increasing")
    for name, var in ds.data_vars.items():
        if name == "TS":
            continue
        if name in TARGET_VARIABLES:
            if var.dims != ("target",):
                raise _fail(origin, f"variable {name!r} has dims {var.dims}, expected ('target',)")
            units = TARGET_VARIABLES[name][0]
            if units and var.attrs.get("units") != units:
                raise _fail(
                    origin,
                    f"variable {name!r} has units {var.attrs.get('units')!r}, expected {units!r}",
                )
    if "kind" in ds.data_vars:
        kinds = {str(k) for k in np.asarray(ds["kind"].values).ravel()}
        bad = kinds - set(KIND_VALUES) - {"", "unknown"}
        if bad:
            raise _fail(origin, f"variable 'kind' has values {sorted(bad)}, allowed {KIND_VALUES}")
    return ds


def local_file_locks() -> Any:
    """A context in which xarray guards NetCDF files with this process's locks.

    While a ``dask.distributed`` Client is this process's default (``batch`` on a cluster
    saves each file's result as it arrives), xarray takes a ``distributed.Lock`` on the
    scheduler for every variable and attribute it writes or reads: a few thousand round
    trips, about 1 s for one file's small result instead of 0.08 s (measured in a batch of
    20 files on a localhost cluster). The spectra written and read here are in memory, so a
    local lock is all they need."""
    import dask

    return dask.config.set(scheduler="synchronous")


def write_spectra(ds: xr.Dataset, path: str | Path) -> Path:
    """Validate and write ``ds`` to NetCDF4 atomically (a temporary file, then rename)."""
    from .outputs import atomic_output

    validate_spectra(ds)
    out = Path(path)
    written, encoding = to_cf(ds)
    encoding["TS"].update(zlib=True, complevel=4)
    with atomic_output(out) as tmp, local_file_locks():
        written.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return out


def read_spectra(path: str | Path) -> xr.Dataset:
    """Read and validate a spectra NetCDF file (loaded into memory)."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"file not found: {p}")
    if not p.is_file():
        raise InputFileError(f"not a file: {p}")
    try:
        with local_file_locks(), xr.open_dataset(p, engine="netcdf4") as opened:
            ds = opened.load()
    except Exception as exc:  # netCDF4 raises OSError, ValueError, RuntimeError...
        raise InputFileError(f"cannot read {p} as NetCDF spectra: {exc}") from exc
    from_cf(ds)
    for name, var in ds.variables.items():
        if var.dtype.kind in "US":  # variable-length strings, as make_spectra builds them
            ds[name] = var.astype(object)
    return validate_spectra(ds, origin=str(p))
