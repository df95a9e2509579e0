"""Scoring one model per band set: R², accuracy, interval coverage and OOD rate on the test
split with the spectra masked to each band set (``evaluate --band-sets``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .bands import band_masks, format_band_set, parse_band_sets
from .data import KINDS, check_grid, restrict_to_grid, truth_of
from .evaluation import add_db_noise, evaluation_indices
from .metrics import compute_metrics
from .trust import INTERVAL_NAMES

if TYPE_CHECKING:
    import xarray as xr

#: Columns of the band-set table: (key, heading, format).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("band_set_khz", "band set (kHz)", "s"),
    ("coverage", "coverage", ".3f"),
    ("n", "n", "d"),
    ("accuracy", "accuracy", ".3f"),
    ("r2_theta", "R² θ", ".3f"),
    ("r2_a", "R² a", ".3f"),
    ("r2_b", "R² b", ".3f"),
    ("r2_alpha", "R² α", ".3f"),
    ("mean_p", "mean p", ".3f"),
    ("cover_theta", "90% int. θ", ".3f"),
    ("cover_a", "90% int. a", ".3f"),
    ("cover_b", "90% int. b", ".3f"),
    ("cover_alpha", "90% int. α", ".3f"),
    ("cover_Req", "90% int. Req", ".3f"),
    ("width_theta", "±θ (deg)", ".1f"),
    ("width_a", "±a (mm)", ".2f"),
    ("width_b", "±b (mm)", ".2f"),
    ("ood_rate", "OOD flagged", ".3f"),
    ("low_coverage_rate", "low coverage", ".3f"),
)
_MM = {"a", "b", "Req"}


def evaluate_band_sets(
    model: Any,
    ds: xr.Dataset,
    band_sets: str,
    use_split: bool = True,
    noise_db: float = 0.0,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], str]:
    """One row per band set (see :data:`COLUMNS`; interval, OOD and coverage columns only
    for a calibrated model), and a note saying which targets were scored."""
    ds = restrict_to_grid(ds, np.asarray(model.frequency))  # a model on every n-th one
    check_grid(model.frequency, ds["frequency"].values, "the evaluation data")
    idx, note = evaluation_indices(model, ds, use_split)
    sub = ds.isel(target=idx)
    if noise_db > 0:
        sub = add_db_noise(sub, noise_db, seed)
        note += f"; {noise_db:g} dB Gaussian noise added (seed {seed})"
    truth = truth_of(sub, "evaluation data")
    ts = np.asarray(sub["TS"].transpose("target", "frequency").values, dtype=np.float64)
    sets = parse_band_sets(band_sets)
    masks = band_masks(model.frequency, sets, "--band-sets")
    rows = []
    for band_set, mask in zip(sets, masks, strict=True):
        masked = sub.copy()
        masked["TS"] = (("target", "frequency"), np.where(mask, ts, np.nan), sub["TS"].attrs)
        out = model.predict(masked)
        kinds = np.asarray(out["kind"].values).astype(str)
        pred: dict[str, np.ndarray] = {
            "kind": np.array([KINDS.index(k) if k in KINDS else -1 for k in kinds]),
            "probability": np.asarray(out["probability"].values, float),
        }
        for key in ("theta", "a", "b", "alpha", "Req"):
            pred[key] = np.asarray(out[key].values, float)
        metrics = compute_metrics(truth, pred)
        row: dict[str, Any] = {
            "band_set_khz": format_band_set(band_set),
            "coverage": float(mask.mean()),
            "n": int(len(idx)),
            **{k: metrics[k] for k in ("accuracy", "r2_theta", "r2_a", "r2_b", "r2_alpha")},
            "mean_p": float(np.nanmean(pred["probability"])),
        }
        if "ood" in out:
            for name in INTERVAL_NAMES:
                low = np.asarray(out[f"{name}_low"].values, float)
                high = np.asarray(out[f"{name}_high"].values, float)
                t = truth[name]
                row[f"cover_{name}"] = float(((t >= low) & (t <= high)).mean())
                half = np.median(high - low) / 2.0
                row[f"width_{name}"] = half * (1e3 if name in _MM else 1.0)
            row["ood_rate"] = float(np.asarray(out["ood"].values, bool).mean())
            row["low_coverage_rate"] = float(np.asarray(out["low_coverage"].values, bool).mean())
        rows.append(row)
    return rows, note


def band_set_markdown(rows: list[dict[str, Any]], title: str, note: str) -> str:
    """The rows as a Markdown table (columns present in the rows), under ``title``."""
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    lines = [f"### {title}", "", f"- {note}", ""]
    lines.append("| " + " | ".join(h for _, h, _ in cols) + " |")
    lines.append("|" + "|".join("---" if k == "band_set_khz" else "---:" for k, _, _ in cols) + "|")
    for r in rows:
        cells = []
        for key, _, fmt in cols:
            v = r.get(key)
            cells.append("n/a" if v is None else format(v, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    widths = "median half-width of the interval" if any("width_a" in r for r in rows) else ""
    if widths:
        lines += ["", f"± columns: {widths}; 90% int.: fraction of test truths inside it."]
    return "\n".join(lines) + "\n"
