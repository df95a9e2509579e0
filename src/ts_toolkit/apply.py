"""Applying a trained model to measured spectra: frequency-grid matching and predictions.

Measured TS(f) comes on the file's own frequency bins (with NaN in gaps between
channels); a model expects its training grid. :func:`to_model_grid` interpolates each
spectrum onto the model grid inside the measured bands only, never extrapolating; a model
grid that the measured bands do not cover is a :class:`ModelMismatchError` unless the
caller accepts a partial cover (the model then sees NaN there, which learners mask).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import InputFileError, ModelMismatchError

#: Trust variables of a calibrated model's predictions (docs/trust.md), copied when present.
TRUST_VARIABLES = (
    "coverage",
    "low_coverage",
    "probability_uncalibrated",
    *(f"{n}_{end}" for n in ("theta", "a", "b", "alpha", "Req") for end in ("low", "high")),
    "ood_score",
    "misfit",
    "llr_gas_liquid",
    "density_contrast",
    "sound_speed_contrast",
    "roughness",
    "ood_embedding_score",
    "ood",
)
PREDICTION_VARIABLES = ("kind", "probability", "theta", "a", "b", "alpha", "Req", *TRUST_VARIABLES)

#: Percentile of a model's training TS values used as its default detection threshold.
THRESHOLD_PERCENTILE = "p01"


def model_detection_threshold(model: Any) -> tuple[float, str] | None:
    """Default single-target detection threshold (dB re 1 m²) for applying ``model``, and
    a sentence saying where it comes from: the 1st percentile of the model's training TS
    values (``training_ts_db`` in its file), rounded down to a whole dB, so that the
    detection keeps the weak end of the population the model knows. None for a model
    without that record (files written before it existed; see
    ``scripts/add_training_ts.py``)."""
    summary = getattr(model, "training_ts", None) or {}
    value = summary.get(THRESHOLD_PERCENTILE)
    if value is None or not np.isfinite(value):
        return None
    threshold = float(np.floor(value))
    why = (
        f"{threshold:g} dB, from the model's training spectra (1 % of their TS values lie "
        f"below {value:.1f} dB; range {summary.get('min', np.nan):.0f} to "
        f"{summary.get('max', np.nan):.0f} dB)"
    )
    return threshold, why


def _khz_range(f: np.ndarray) -> str:
    return f"{f.min() / 1e3:g}-{f.max() / 1e3:g} kHz ({f.size} points)"


def measured_bands(f: np.ndarray, measured: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous runs of measured frequencies as (low, high) Hz."""
    runs, start = [], None
    for i, ok in enumerate(measured):
        if ok and start is None:
            start = i
        if (not ok or i == measured.size - 1) and start is not None:
            stop = i if ok else i - 1
            runs.append((float(f[start]), float(f[stop])))
            start = None
    return runs


def _bands_text(f: np.ndarray, measured: np.ndarray) -> str:
    """The measured bands as text in kHz ("34-45, 90-170"; empty if none)."""
    return ", ".join(f"{lo / 1e3:g}-{hi / 1e3:g}" for lo, hi in measured_bands(f, measured))


def to_model_grid(spectra: xr.Dataset, grid: np.ndarray, allow_partial: bool = False) -> xr.Dataset:
    """``spectra`` with TS interpolated (linearly in dB) onto ``grid`` (Hz).

    Each target is interpolated within its own measured bands; grid points outside them
    are NaN. Other per-target spectra (variables on ``target`` x ``frequency``, such as a
    track's ``TS_spread``) are interpolated the same way. Raises
    :class:`ModelMismatchError` when some grid point lies outside every target's measured
    bands, unless ``allow_partial``.
    """
    grid = np.asarray(grid, dtype=float)
    f = spectra["frequency"].values
    ts = spectra["TS"].values.astype(float)
    extra = [
        str(v)
        for v in spectra.data_vars
        if v != "TS" and spectra[v].dims == ("target", "frequency") and spectra[v].dtype.kind == "f"
    ]
    values = {name: spectra[name].values.astype(float) for name in ("TS", *extra)}
    moved = {name: np.full((ts.shape[0], grid.size), np.nan) for name in values}
    for t in range(ts.shape[0]):
        measured = np.isfinite(ts[t])
        for lo, hi in measured_bands(f, measured):
            inside = (grid >= lo - 1e-6) & (grid <= hi + 1e-6)
            sel = measured & (f >= lo) & (f <= hi)
            if inside.any():
                for name, v in values.items():
                    moved[name][t, inside] = np.interp(grid[inside], f[sel], v[t, sel])
    out = moved["TS"]
    covered = np.isfinite(out).any(axis=0) if out.shape[0] else np.zeros(grid.size, bool)
    if not allow_partial and not covered.all():
        measured_any = np.isfinite(ts).any(axis=0)
        bands = _bands_text(f, measured_any)
        raise ModelMismatchError(
            f"the data's bands ({bands or 'none'} kHz) do not cover the model's grid "
            f"{_khz_range(grid)}: {int((~covered).sum())} model frequencies unmeasured; "
            "use a model trained on these bands or allow a partial cover"
        )
    result = spectra.drop_vars(["TS", *extra]).drop_dims("frequency", errors="ignore")
    result = result.assign_coords(frequency=("frequency", grid, spectra["frequency"].attrs))
    for name in ("TS", *extra):
        var = spectra[name]
        result[name] = (("target", "frequency"), moved[name].astype(var.dtype), var.attrs)
    return result


def check_coverage(model: Any, on_grid: xr.Dataset) -> None:
    """Raise :class:`ModelMismatchError` (one line) when a target of ``on_grid`` (spectra on
    the model grid) measures less of the grid than a calibrated model's ``min_coverage``."""
    trust = getattr(model, "trust", None)
    if trust is None or on_grid.sizes["target"] == 0:
        return
    ts = np.asarray(on_grid["TS"].transpose("target", "frequency").values, dtype=float)
    cover = np.isfinite(ts).mean(axis=1)
    low = cover < trust.min_coverage
    if low.any():
        f = np.asarray(on_grid["frequency"].values, dtype=float)
        bands = _bands_text(f, np.isfinite(ts).any(axis=0))
        raise ModelMismatchError(
            f"{int(low.sum())} of {low.size} targets measure {100 * cover.min():.0f}-"
            f"{100 * cover[low].max():.0f} % of the model's grid ({bands or 'none'} kHz of "
            f"{_khz_range(f)}), below its minimum coverage {100 * trust.min_coverage:.0f} % "
            "(where its validation R² of theta, a or b falls below "
            f"{trust.info.get('r2_floor', '?')}); pass --band-subset (batch: "
            "--allow-partial) to predict anyway, with those targets marked low_coverage"
        )


#: Descriptions (``long_name``) and units of the prediction variables.
PREDICTION_ATTRS: dict[str, dict[str, str]] = {
    "kind": {"long_name": "predicted target kind (gas or liquid)"},
    "probability": {"long_name": "model probability of the predicted kind", "units": "1"},
    "theta": {"long_name": "predicted incident angle to the major axis", "units": "degree"},
    "a": {"long_name": "predicted semi-major axis", "units": "m"},
    "b": {"long_name": "predicted semi-minor axis", "units": "m"},
    "alpha": {"long_name": "predicted aspect ratio a/b", "units": "1"},
    "Req": {"long_name": "predicted equivalent spherical radius", "units": "m"},
    "coverage": {"long_name": "fraction of the model's frequency grid measured", "units": "1"},
    "low_coverage": {"long_name": "1 where the coverage is below the model's minimum"},
    "probability_uncalibrated": {
        "long_name": "model probability of the predicted kind before calibration",
        "units": "1",
    },
    "ood_score": {
        "long_name": "RMS TS difference to the nearest training spectrum (measured bins)",
        "units": "1",
        "level_units": "dB",
    },
    "roughness": {
        "long_name": "RMS step between neighbouring TS values (dB)",
        "units": "1",
        "level_units": "dB",
    },
    "ood_embedding_score": {
        "long_name": "Mahalanobis distance of the network's features to the training classes",
        "units": "1",
    },
    "ood": {"long_name": "1 where the target is out of the model's training distribution"},
    "misfit": {
        "long_name": "RMS TS difference between the measured and the fitted spectrum (dB)",
        "units": "1",
        "level_units": "dB",
    },
    "llr_gas_liquid": {
        "long_name": "natural log of the likelihood ratio of gas- over liquid-filled",
        "units": "1",
    },
    "density_contrast": {
        "long_name": "fitted density of the interior over the water's",
        "units": "1",
    },
    "sound_speed_contrast": {
        "long_name": "fitted sound speed of the interior over the water's",
        "units": "1",
    },
}
for _name in ("theta", "a", "b", "alpha", "Req"):
    for _end, _word in (("low", "lower"), ("high", "upper")):
        PREDICTION_ATTRS[f"{_name}_{_end}"] = {
            "long_name": f"{_word} bound of the 90 % interval of the {_name} prediction",
            **({"units": PREDICTION_ATTRS[_name]["units"]}),
        }


def model_provenance(
    model: Any, model_file: str | Path | None = None, model_sha256: str | None = None
) -> dict[str, Any]:
    """Attributes naming the model that made predictions: its plugin, its saved settings
    and, when known, its file's name and SHA-256 checksum (computed from the file unless
    given)."""
    from .conventions import file_sha256

    attrs: dict[str, Any] = {"model": str(getattr(model, "name", type(model).__name__))}
    saved = getattr(model, "saved_settings", None)
    if callable(saved):
        attrs["model_settings"] = saved()
    if model_file is not None:
        attrs["model_file"] = Path(model_file).name
        attrs["model_sha256"] = model_sha256 or file_sha256(model_file)
    return attrs


def predict_spectra(
    model: Any,
    spectra: xr.Dataset,
    allow_partial: bool = False,
    model_file: str | Path | None = None,
    model_sha256: str | None = None,
) -> xr.Dataset:
    """Spectra on the model grid with the model's predictions as ``pred_*`` variables, and
    the model's provenance (:func:`model_provenance`; ``model_file``: the file it was
    loaded from) in the attributes, with a line added to ``history``.

    A calibrated model (``model.trust``, docs/trust.md) takes any part of its grid; a
    target that measures less than its minimum coverage is refused (:func:`check_coverage`)
    unless ``allow_partial``, and then marked ``pred_low_coverage``. Other models need
    their whole grid measured unless ``allow_partial``."""
    from .spectra import to_attr

    calibrated = getattr(model, "trust", None) is not None or getattr(model, "any_band", False)
    on_grid = to_model_grid(spectra, model.frequency, allow_partial=allow_partial or calibrated)
    prov = model_provenance(model, model_file, model_sha256)
    for key, value in prov.items():
        on_grid.attrs[key] = to_attr(value)
    on_grid.attrs["prediction_settings"] = to_attr({"allow_partial": bool(allow_partial)})
    named = f"{prov['model']} model" + (f" {prov['model_file']}" if "model_file" in prov else "")
    line = f"predictions of the {named} (ts-toolkit {_version()})"
    history = str(spectra.attrs.get("history", "")).strip()
    on_grid.attrs["history"] = f"{history}\n{line}" if history else line
    if on_grid.sizes["target"] == 0:
        return on_grid
    if not allow_partial:
        check_coverage(model, on_grid)
    predictions = model.predict(on_grid)
    if "coverage" not in predictions:  # every prediction says how much of the grid it saw
        ts = np.asarray(on_grid["TS"].transpose("target", "frequency").values, dtype=float)
        predictions["coverage"] = ("target", np.isfinite(ts).mean(axis=1), {"units": "1"})
    for name in PREDICTION_VARIABLES:
        if name in predictions:
            var = predictions[name]
            attrs = {**dict(var.attrs), **PREDICTION_ATTRS.get(name, {})}
            on_grid[f"pred_{name}"] = ("target", np.asarray(var.values), attrs)
    return on_grid


def _version() -> str:
    from . import __version__

    return str(__version__)


#: Per-target measurement columns copied into prediction rows, when present.
ROW_FIELDS = (
    "ping_time", "ping_number", "channel", "track", "n_pings", "range", "depth", "latitude",
    "longitude", "vessel_log", "angle_alongship", "angle_athwartship",
    "TS_centre", "majority_pred_kind", "median_pred_a", "median_pred_b", "median_pred_alpha",
    "median_pred_Req", "median_pred_theta",
)  # fmt: skip
#: Prediction columns (from the ``pred_*`` variables).
ROW_PREDICTIONS = ("kind", "probability", "a", "b", "alpha", "Req", "theta", *TRUST_VARIABLES)


def prediction_rows(result: xr.Dataset) -> list[dict[str, Any]]:
    """One dict per target: ping time (text, ms), channel, track and its number of pings
    (when tracked), range, angles, TS at the centre frequency and the predictions (SI units,
    theta in degrees)."""
    rows = []
    for i in range(int(result.sizes["target"])):
        row: dict[str, Any] = {}
        for name in ROW_FIELDS:
            if name in result:
                v = result[name].values[i]
                if name == "ping_time":
                    row[name] = str(np.datetime_as_string(v, unit="ms")).replace("T", " ")
                else:
                    row[name] = v.item() if hasattr(v, "item") else v
        for name in ROW_PREDICTIONS:
            if f"pred_{name}" in result:
                v = result[f"pred_{name}"].values[i]
                row[name] = v.item() if hasattr(v, "item") else v
                if isinstance(row[name], bool):
                    row[name] = int(row[name])  # 0/1 in CSV, as in NetCDF
        rows.append(row)
    return rows


def write_predictions(result: xr.Dataset, rows: list[dict[str, Any]], out: Path) -> Path:
    """Write predictions: ``.nc`` (spectra on the model grid + ``pred_*``) or ``.csv``
    (a plain table; its provenance, the Dataset's attributes, in a JSON sidecar
    :func:`~ts_toolkit.conventions.provenance_sidecar`)."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        import csv

        from .conventions import write_provenance_sidecar
        from .outputs import atomic_output

        columns = (
            sorted({k for r in rows for k in r}, key=list(rows[0]).index)
            if rows
            else ["ping_time", "channel", "range", *ROW_PREDICTIONS]
        )
        with atomic_output(out) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        if result is not None:
            write_provenance_sidecar(out, dict(result.attrs))
        return out
    if suffix == ".nc":
        from .spectra import write_spectra

        return write_spectra(result, out)
    raise InputFileError(f"--out {out}: unknown format {suffix!r}; use .nc or .csv")
