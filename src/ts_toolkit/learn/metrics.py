"""Scores of a prediction: accuracy, R², RMSE and the composite model-selection score."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res/SS_tot (as scikit-learn's ``r2_score``)."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root-mean-square error, in the units of the inputs."""
    d = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def composite_score(acc: float, r2_theta: float, r2_a: float, r2_b: float) -> float:
    """mean(accuracy, R²θ, R²a, R²b): the model-selection score."""
    return float(np.mean([acc, r2_theta, r2_a, r2_b]))


#: Metric keys with their table labels, in table order.
METRIC_LABELS: dict[str, str] = {
    "r2_theta": "R² θ",
    "r2_a": "R² a",
    "r2_b": "R² b",
    "r2_alpha": "R² α",
    "accuracy": "accuracy",
    "composite": "composite",
    "rmse_theta_deg": "RMSE θ (deg)",
    "rmse_a_mm": "RMSE a (mm)",
    "rmse_b_mm": "RMSE b (mm)",
    "rmse_alpha": "RMSE α",
}


def compute_metrics(
    truth: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """All metrics of :data:`METRIC_LABELS` from truth/prediction arrays.

    ``truth``/``pred`` hold ``kind`` (class index), ``theta`` (deg), ``a``, ``b`` (m) and
    ``alpha``. RMSE of a and b is reported in mm.
    """
    out = {
        "accuracy": accuracy(truth["kind"], pred["kind"]),
        "r2_theta": r2_score(truth["theta"], pred["theta"]),
        "r2_a": r2_score(truth["a"], pred["a"]),
        "r2_b": r2_score(truth["b"], pred["b"]),
        "r2_alpha": r2_score(truth["alpha"], pred["alpha"]),
        "rmse_theta_deg": rmse(truth["theta"], pred["theta"]),
        "rmse_a_mm": 1e3 * rmse(truth["a"], pred["a"]),
        "rmse_b_mm": 1e3 * rmse(truth["b"], pred["b"]),
        "rmse_alpha": rmse(truth["alpha"], pred["alpha"]),
    }
    out["composite"] = composite_score(out["accuracy"], out["r2_theta"], out["r2_a"], out["r2_b"])
    return {k: out[k] for k in METRIC_LABELS}


#: R² metric keys and the truth array each scores.
R2_KEYS = {"r2_theta": "theta", "r2_a": "a", "r2_b": "b", "r2_alpha": "alpha"}
_SYMBOLS = {"theta": "θ", "a": "a", "b": "b", "alpha": "α"}


def r2_defined(y_true: np.ndarray) -> bool:
    """R² is defined for at least 2 true values that are not all equal (SS_tot > 0)."""
    t = np.asarray(y_true, dtype=np.float64)
    return t.size >= 2 and bool(np.nanmax(t) > np.nanmin(t))


def mark_undefined_r2(
    metrics: Mapping[str, float], truth: Mapping[str, np.ndarray]
) -> tuple[dict[str, float], str | None]:
    """``metrics`` with every undefined R² (see :func:`r2_defined`) as NaN, and the
    composite NaN when one of its R² is; plus a one-line warning naming them, or None.

    :func:`r2_score` returns 0 or 1 for such data (as scikit-learn does), a number a
    report must not show as a score."""
    out = dict(metrics)
    undefined = [key for key, name in R2_KEYS.items() if not r2_defined(truth[name])]
    if not undefined:
        return out, None
    for key in undefined:
        out[key] = float("nan")
    if any(key in undefined for key in ("r2_theta", "r2_a", "r2_b")):
        out["composite"] = float("nan")
    n = int(np.asarray(truth["theta"]).size)
    names = ", ".join(_SYMBOLS[R2_KEYS[k]] for k in undefined)
    why = f"only {n} scored target" if n < 2 else "the true values do not vary"
    note = f"R² of {names} is undefined ({why}; it needs at least 2 different true values)"
    if out["composite"] != out["composite"]:  # NaN
        note += ", and so is the composite"
    return out, note + "; shown as n/a"


def metrics_from_arrays(
    kind_true: np.ndarray, y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Metrics from class probabilities and (theta, a, b) arrays in physical units."""
    truth = {
        "kind": kind_true,
        "theta": y_true[:, 0],
        "a": y_true[:, 1],
        "b": y_true[:, 2],
        "alpha": y_true[:, 1] / y_true[:, 2],
    }
    pred = {
        "kind": np.argmax(proba, axis=1),
        "theta": y_pred[:, 0],
        "a": y_pred[:, 1],
        "b": y_pred[:, 2],
        "alpha": y_pred[:, 1] / y_pred[:, 2],
    }
    return compute_metrics(truth, pred)
