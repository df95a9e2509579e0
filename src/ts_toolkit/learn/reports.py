"""Reports of evaluations: comparison table (Markdown/CSV), Figure-3 PNG, outlier report.

Tables show ``a``/``b`` RMSE in mm; matplotlib and scipy are imported where used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..outputs import atomic_output
from .data import KINDS, TARGET_NAMES
from .metrics import METRIC_LABELS

if TYPE_CHECKING:
    from .evaluation import Evaluation


def format_metric(key: str, value: float) -> str:
    """A metric for tables: RMSEs to 2 decimals, scores (R², accuracy) to 3."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if key.startswith("rmse") else f"{value:.3f}"


def comparison_markdown(
    results: Sequence[Evaluation], extra_rows: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The comparison table (rows: metrics, columns: models) as Markdown."""
    header = "| metric | " + " | ".join(r.label for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for key, label in METRIC_LABELS.items():
        lines.append(
            f"| {label} | " + " | ".join(format_metric(key, r.metrics[key]) for r in results) + " |"
        )
    for label, values in (extra_rows or {}).items():
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def comparison_csv(results: Sequence[Evaluation]) -> str:
    """The comparison table as CSV (full precision), one column per model."""
    lines = ["metric," + ",".join(r.label for r in results)]
    for key in METRIC_LABELS:
        lines.append(key + "," + ",".join(repr(float(r.metrics[key])) for r in results))
    return "\n".join(lines) + "\n"


def plot_true_vs_predicted(results: Sequence[Evaluation], path: str | Path) -> Path:
    """Figure 3 analogue: true vs predicted θ, a, b, α (one row per model), gas and liquid
    coloured, with the 1:1 line and R² in each panel. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("theta", "θ (deg)", 1.0, "r2_theta"),
        ("a", "a (mm)", 1e3, "r2_a"),
        ("b", "b (mm)", 1e3, "r2_b"),
        ("alpha", "α = a/b", 1.0, "r2_alpha"),
    ]
    colors = {"gas": "tab:blue", "liquid": "tab:orange"}
    fig, axes = plt.subplots(len(results), 4, figsize=(13, 3.2 * len(results)), squeeze=False)
    for row, res in zip(axes, results, strict=True):
        for ax, (key, label, scale, mkey) in zip(row, panels, strict=True):
            t = res.truth[key] * scale
            p = res.pred[key] * scale
            for i, kind in enumerate(KINDS):
                sel = (res.truth["kind"] == i) & np.isfinite(p)
                ax.scatter(
                    t[sel], p[sel], s=4, alpha=0.5, color=colors[kind], label=kind, rasterized=True
                )
            lo = float(np.nanmin([t.min(), np.nanmin(p)]))
            hi = float(np.nanmax([t.max(), np.nanmax(p)]))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            r2 = format_metric(mkey, res.metrics[mkey])
            ax.set_title(f"{res.label}: {label}  R² = {r2}", fontsize=9)
            ax.set_xlabel(f"true {label}", fontsize=8)
            ax.set_ylabel(f"predicted {label}", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].legend(fontsize=7, markerscale=3, loc="upper left")
    fig.tight_layout()
    out = Path(path)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return out


def count_peaks(ts: np.ndarray, prominence_db: float = 3.0) -> np.ndarray:
    """Number of spectral peaks (local maxima with ≥ ``prominence_db`` dB prominence) of
    each TS row (NaN gaps are skipped); a proxy for resonance/interference structure."""
    from scipy.signal import find_peaks

    out = np.zeros(ts.shape[0], dtype=np.int64)
    for i, row in enumerate(np.asarray(ts, dtype=float)):
        r = row[np.isfinite(row)]
        if r.size >= 3:
            out[i] = len(find_peaks(r, prominence=prominence_db)[0])
    return out


def peak_bins(peaks: np.ndarray) -> list[tuple[int, int]]:
    """Up to three inclusive integer ranges splitting peak counts at their terciles."""
    p = np.asarray(peaks, dtype=np.int64)
    if p.size == 0:
        return []
    cuts = np.floor(np.quantile(p, [1 / 3, 2 / 3])).astype(np.int64) + 1
    edges = sorted(
        {int(p.min()), *(int(c) for c in cuts if p.min() < c <= p.max()), int(p.max()) + 1}
    )
    return [(lo, hi - 1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


#: Edges (deg) of the incident-angle thirds the outlier analysis groups targets by.
THETA_THIRDS = (0, 30, 60, 90)


def bin_masks(values: np.ndarray, edges: Sequence[float]) -> list[np.ndarray]:
    """One boolean mask per bin between consecutive ``edges``: half-open [lo, hi), the last
    one closed [lo, hi] so that the top edge belongs to a bin."""
    last = len(edges) - 2
    return [
        (values >= lo) & ((values <= hi) if j == last else (values < hi))
        for j, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def target_errors(res: Evaluation) -> np.ndarray:
    """Per-target combined error: |Δθ|/σθ + |Δa|/σa + |Δb|/σb (σ: std of the true values
    in the test set) plus 1 for a wrong kind; NaN predictions rank last."""
    err = np.zeros(res.indices.size)
    for key in TARGET_NAMES:
        sd = float(np.std(res.truth[key])) or 1.0
        err += np.abs(res.pred[key] - res.truth[key]) / sd
    err += (res.pred["kind"] != res.truth["kind"]).astype(float)
    return np.where(np.isfinite(err), err, -np.inf)


def outlier_report(res: Evaluation, n: int) -> str:
    """Markdown: the ``n`` worst-predicted test targets with their parameters, then where
    the largest errors concentrate (share of the worst decile vs share of the test set, by
    kind, incident angle, Req, alpha and number of spectral peaks), with each group's share
    of the squared errors of θ, a and b (what costs each R²: 1 − R² = Σ error² / Σ spread²)."""
    err = target_errors(res)
    order = np.argsort(-err)[:n]
    peaks = count_peaks(res.ts) if res.ts.size else np.zeros(err.size, dtype=np.int64)
    t, p = res.truth, res.pred
    lines = [
        f"### {res.label}: {len(order)} worst-predicted test targets",
        "",
        "| target | kind (pred) | θ true/pred (deg) | a true/pred (mm) | b true/pred (mm) "
        "| α true/pred | Req (mm) | peaks | error |",
        "|---:|---|---|---|---|---|---:|---:|---:|",
    ]
    for i in order:
        pk = KINDS[p["kind"][i]] if p["kind"][i] >= 0 else "unknown"
        lines.append(
            f"| {int(res.indices[i])} | {KINDS[t['kind'][i]]} ({pk}) | "
            f"{t['theta'][i]:.1f} / {p['theta'][i]:.1f} | {1e3 * t['a'][i]:.2f} / "
            f"{1e3 * p['a'][i]:.2f} | {1e3 * t['b'][i]:.2f} / {1e3 * p['b'][i]:.2f} | "
            f"{t['alpha'][i]:.2f} / {p['alpha'][i]:.2f} | {1e3 * t['Req'][i]:.2f} | "
            f"{peaks[i]} | {err[i]:.2f} |"
        )
    worst = np.zeros(err.size, dtype=bool)
    worst[np.argsort(-err)[: max(1, err.size // 10)]] = True
    lines += [
        "",
        f"Where errors concentrate (worst 10 % = {int(worst.sum())} targets; error as above):",
        "",
        "| group | share of test set | share of worst 10 % | mean error "
        "| share of Σ error² θ / a / b |",
        "|---|---:|---:|---:|---:|",
    ]
    groups: list[tuple[str, np.ndarray]] = [
        (f"kind = {k}", t["kind"] == i) for i, k in enumerate(KINDS)
    ]
    for j, sel in enumerate(bin_masks(t["theta"], THETA_THIRDS)):
        close = "]" if j == len(THETA_THIRDS) - 2 else ")"
        groups.append((f"θ in [{THETA_THIRDS[j]}, {THETA_THIRDS[j + 1]}{close} deg", sel))
    for key, label, scale, unit in (("Req", "Req", 1e3, " mm"), ("alpha", "α", 1.0, "")):
        edges = np.quantile(t[key], [0, 1 / 3, 2 / 3, 1])
        for j, sel in enumerate(bin_masks(t[key], edges)):
            groups.append(
                (f"{label} in [{edges[j] * scale:.2f}, {edges[j + 1] * scale:.2f}]{unit}", sel)
            )
    for lo, hi in peak_bins(peaks):
        name = f"peaks = {lo}" if lo == hi else f"peaks {lo}–{hi}"
        groups.append((name, (peaks >= lo) & (peaks <= hi)))
    finite = np.isfinite(err)
    diff = {key: p[key] - t[key] for key in TARGET_NAMES}
    sq = {key: np.where(np.isfinite(d), d, 0.0) ** 2 for key, d in diff.items()}
    unscored = int((~np.isfinite(np.stack(list(diff.values())))).any(axis=0).sum())
    for name, sel in groups:
        if not sel.any():
            continue
        mean_err = float(np.mean(err[sel & finite])) if (sel & finite).any() else float("nan")
        shares = " / ".join(
            f"{100 * sq[k][sel].sum() / sq[k].sum():.0f}" if sq[k].sum() > 0 else "–"
            for k in TARGET_NAMES
        )
        lines.append(
            f"| {name} | {sel.mean():.1%} | {sel[worst].mean():.1%} | {mean_err:.2f} | {shares} % |"
        )
    if unscored:
        note = f"{unscored} target(s) without a finite prediction are left out of the shares."
        lines += ["", note]
    return "\n".join(lines) + "\n"
