"""Labelled spectra in, learning arrays out: reading and checking TS, kind and targets.

TS in dB re 1 m², frequency in Hz, ``theta`` in degrees and ``a``/``b``/``Req`` in metres.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ModelMismatchError, SpectraValidationError

if TYPE_CHECKING:
    import xarray as xr

#: Regression targets, in the order of every target array (theta in deg, a and b in m).
TARGET_NAMES: tuple[str, ...] = ("theta", "a", "b")
#: Target kinds, in the order of every class-probability array.
KINDS: tuple[str, ...] = ("gas", "liquid")


def grid_summary(frequency: np.ndarray) -> str:
    """``"10.0–260.0 kHz, 501 frequencies"`` for a frequency grid in Hz."""
    f = np.asarray(frequency, dtype=float)
    if f.size == 0:
        return "empty grid"
    return f"{f[0] / 1e3:.1f}–{f[-1] / 1e3:.1f} kHz, {f.size} frequencies"


def restrict_to_grid(spectra: xr.Dataset, grid: np.ndarray) -> xr.Dataset:
    """``spectra`` restricted to ``grid`` (Hz) when every grid frequency is one of theirs
    (to 1 mHz), e.g. Table I's 501 frequencies for a library of every second one;
    otherwise unchanged."""
    f = np.asarray(spectra["frequency"].values, float)
    if f.size == grid.size and np.allclose(f, grid, rtol=0, atol=1e-3):
        return spectra
    pos = np.searchsorted(f, grid)
    pos = np.clip(pos, 0, f.size - 1)
    if f.size and np.allclose(f[pos], grid, rtol=0, atol=1e-3):
        return spectra.isel(frequency=pos)
    return spectra


def check_grid(
    model_frequency: np.ndarray, data_frequency: np.ndarray, origin: str = "data"
) -> None:
    """Raise :class:`ModelMismatchError` unless both grids (Hz) are the same (to 1 mHz)."""
    m = np.asarray(model_frequency, dtype=float)
    d = np.asarray(data_frequency, dtype=float)
    if m.shape == d.shape and np.allclose(m, d, rtol=0.0, atol=1e-3):
        return
    raise ModelMismatchError(
        f"frequency grid of {origin} ({grid_summary(d)}) does not match the model's grid "
        f"({grid_summary(m)}); resample the spectra onto the model grid or train a model "
        f"on this grid"
    )


def ts_array(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """TS (dB re 1 m²) as float64 (target, frequency); raise if no value is finite."""
    ts = np.asarray(ds["TS"].transpose("target", "frequency").values, dtype=np.float64)
    if ts.size == 0:
        raise SpectraValidationError(f"{origin}: contains no targets")
    if not np.isfinite(ts).any():
        raise SpectraValidationError(f"{origin}: every TS value is NaN (no measured spectra)")
    return ts


def kind_index(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """Kind as class indices into :data:`KINDS` (int64); raise on a missing/unknown kind."""
    if "kind" not in ds.data_vars:
        raise SpectraValidationError(
            f"{origin}: variable 'kind' is missing (need labelled, simulated spectra)"
        )
    kinds = np.asarray(ds["kind"].values).astype(str)
    out = np.full(kinds.shape, -1, dtype=np.int64)
    for i, k in enumerate(KINDS):
        out[kinds == k] = i
    if (out < 0).any():
        bad = sorted(set(kinds[out < 0].tolist()))
        raise SpectraValidationError(
            f"{origin}: variable 'kind' has unlabelled values {bad}; expected {list(KINDS)}"
        )
    return out


def target_array(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """(theta [deg], a [m], b [m]) as float64 (target, 3); raise if missing or not finite."""
    cols = []
    for name in TARGET_NAMES:
        if name not in ds.data_vars:
            raise SpectraValidationError(
                f"{origin}: variable {name!r} is missing (need labelled, simulated spectra)"
            )
        v = np.asarray(ds[name].values, dtype=np.float64)
        if not np.isfinite(v).all():
            raise SpectraValidationError(f"{origin}: variable {name!r} has non-finite values")
        cols.append(v)
    return np.stack(cols, axis=1)


def truth_of(ds: xr.Dataset, origin: str = "spectra") -> dict[str, np.ndarray]:
    """Known values per target: kind (index), theta (deg), a, b, Req (m), alpha."""
    y = target_array(ds, origin)
    a, b = y[:, 1], y[:, 2]
    alpha = np.asarray(ds["alpha"].values, dtype=float) if "alpha" in ds.data_vars else a / b
    req = np.asarray(ds["Req"].values, dtype=float) if "Req" in ds.data_vars else np.cbrt(a * b * b)
    return {
        "kind": kind_index(ds, origin),
        "theta": y[:, 0],
        "a": a,
        "b": b,
        "alpha": alpha,
        "Req": req,
    }


FINGERPRINT_PREFIX = "f32:"


def dataset_fingerprint(ds: xr.Dataset) -> str:
    """A short hash of the frequency grid and the per-target labels (identifies a data set
    cheaply, so that a saved split is only reused on the data it was drawn from).

    The numbers are hashed as float32, so a data set regenerated with the same command and
    seed on another CPU, whose maths library rounds the last bit of a float64 differently
    (measured: Table I's b and a), keeps its fingerprint (almost always: a last-bit change
    flips a float32 rounding with odds of about 2**-29 per value), while a change of a label
    larger than float32 resolution (about 1e-7 relative) changes it. Prefixed ``f32:``;
    models saved before 2026-12-02 hold :func:`legacy_fingerprint`.
    """
    return FINGERPRINT_PREFIX + _label_hash(ds, np.float32)


def legacy_fingerprint(ds: xr.Dataset) -> str:
    """The fingerprint of models saved before 2026-12-02: the same hash of float64 values,
    so it changes with the last bit of any label."""
    return _label_hash(ds, np.float64)


def fingerprint_matches(stored: str, ds: xr.Dataset) -> bool:
    """Whether ``ds`` is the data set whose fingerprint a model saved (``""``: not recorded)."""
    if not stored:
        return True
    if stored.startswith(FINGERPRINT_PREFIX):
        return stored == dataset_fingerprint(ds)
    return stored == legacy_fingerprint(ds)


def _label_hash(ds: xr.Dataset, dtype: type) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(ds["frequency"].values, dtype=np.float64).astype(dtype).tobytes())
    h.update(str(ds.sizes["target"]).encode())
    for name in TARGET_NAMES:
        if name in ds.data_vars:
            h.update(np.asarray(ds[name].values, dtype=np.float64).astype(dtype).tobytes())
    if "kind" in ds.data_vars:
        h.update("|".join(np.asarray(ds["kind"].values).astype(str).tolist()).encode())
    return h.hexdigest()[:16]


@dataclass
class LearnArrays:
    """What a learner's ``_fit`` sees: standardised inputs and labels.

    ``x``: z-scored TS, float32 (n, n_freq), 0 where not measured; ``mask``: 1 where
    measured; ``kind``: class index into :data:`KINDS`; ``y``: z-scored targets (n, 3) in
    :data:`TARGET_NAMES` order.
    """

    x: np.ndarray
    mask: np.ndarray
    kind: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])
