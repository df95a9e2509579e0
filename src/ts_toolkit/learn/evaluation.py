"""Evaluation: predict a model's test targets (optionally with dB noise) and score them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelMismatchError, SpectraValidationError
from .data import KINDS, check_grid, fingerprint_matches, restrict_to_grid, truth_of
from .metrics import compute_metrics, mark_undefined_r2

if TYPE_CHECKING:
    import xarray as xr


@dataclass
class Evaluation:
    """One model's predictions on a test set, with the truth and the metrics."""

    label: str
    model: str
    indices: np.ndarray
    truth: dict[str, np.ndarray]
    pred: dict[str, np.ndarray]
    metrics: dict[str, float]
    ts: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    frequency: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    note: str = ""
    warnings: list[str] = field(default_factory=list)


def evaluation_indices(
    model: Any, ds: xr.Dataset, use_split: bool = True
) -> tuple[np.ndarray, str]:
    """Indices to evaluate ``model`` on: its saved test split when the data is the one it
    was trained on, else every target (with a note saying so)."""
    n = ds.sizes["target"]
    split = getattr(model, "split", None)
    if not use_split:
        return np.arange(n), "all targets"
    if split is None:
        return np.arange(n), "all targets (the model has no saved split)"
    if split.n_targets != n or not fingerprint_matches(split.fingerprint, ds):
        raise ModelMismatchError(
            f"model {getattr(model, 'name', '?')!r} was trained on another data set "
            f"({split.n_targets} targets, fingerprint {split.fingerprint}); to evaluate it on "
            f"every target of this one, use --all"
        )
    return split.test, f"saved test split (seed {split.seed}, {split.test.size} targets)"


def add_db_noise(ds: xr.Dataset, sigma_db: float, seed: int = 0) -> xr.Dataset:
    """A copy of ``ds`` with Gaussian noise of ``sigma_db`` dB added to every finite TS."""
    rng = np.random.default_rng(seed)
    ts = np.asarray(ds["TS"].values, dtype=np.float64)
    noisy = ts + rng.normal(0.0, sigma_db, ts.shape)
    out = ds.copy()
    out["TS"] = (ds["TS"].dims, np.where(np.isfinite(ts), noisy, np.nan), ds["TS"].attrs)
    return out


def evaluate_model(
    model: Any,
    ds: xr.Dataset,
    label: str | None = None,
    use_split: bool = True,
    indices: np.ndarray | None = None,
    noise_db: float = 0.0,
    seed: int = 0,
) -> Evaluation:
    """Predict targets of ``ds`` with ``model`` and score them.

    The targets are ``indices`` when given, else the model's saved test split (or every
    target: see :func:`evaluation_indices`). ``noise_db`` > 0 adds seeded Gaussian dB noise
    to the TS first (robustness check).
    """
    ds = restrict_to_grid(ds, np.asarray(model.frequency))  # a model on every n-th one
    check_grid(model.frequency, ds["frequency"].values, "the evaluation data")
    if indices is None:
        idx, note = evaluation_indices(model, ds, use_split)
    else:
        idx, note = np.asarray(indices, dtype=np.int64), f"{len(indices)} given targets"
    sub = ds.isel(target=idx)
    if noise_db > 0:
        sub = add_db_noise(sub, noise_db, seed)
        note += f"; {noise_db:g} dB Gaussian noise added (seed {seed})"
    truth = truth_of(sub, "evaluation data")
    out = model.predict(sub)
    kinds = np.asarray(out["kind"].values).astype(str)
    pred_kind = np.full(kinds.shape, -1, dtype=np.int64)
    for i, k in enumerate(KINDS):
        pred_kind[kinds == k] = i
    pred = {"kind": pred_kind, "probability": np.asarray(out["probability"].values, float)}
    for key in ("theta", "a", "b", "alpha", "Req"):
        pred[key] = np.asarray(out[key].values, dtype=float)
    scored = np.isfinite(pred["theta"])
    if not scored.any():
        raise SpectraValidationError("evaluation data: no target has a measured spectrum")
    scored_truth = {k: v[scored] for k, v in truth.items()}
    metrics = compute_metrics(scored_truth, {k: v[scored] for k, v in pred.items()})
    metrics, undefined = mark_undefined_r2(metrics, scored_truth)
    if not scored.all():
        note += f"; {int((~scored).sum())} all-NaN spectra skipped"
    return Evaluation(
        label or model.name,
        model.name,
        idx,
        truth,
        pred,
        metrics,
        ts=np.asarray(sub["TS"].values, float),
        frequency=np.asarray(sub["frequency"].values, float),
        note=note,
        warnings=[undefined] if undefined else [],
    )
