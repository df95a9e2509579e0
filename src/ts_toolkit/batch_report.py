"""The final report of a batch: counts, failures with reasons, classes, size histograms."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .batch import BatchReport, WorkStore
from .outputs import atomic_output, write_text_atomic


def _n_empty(ok: list) -> int:
    return sum(o.n_targets == 0 for o in ok)


def write_report(report: BatchReport) -> str:
    """Write ``<out>-report.md`` and ``<out>-sizes.png``; return the report text.

    The last step of a batch: afterwards its work folder is marked complete, so that the
    same command run again says so and does nothing."""
    out = report.out
    ok = [o for o in report.outcomes if o.status == "ok"]
    lines = [
        f"# Batch report: {out.name}",
        "",
        f"- files: {len(report.outcomes)} ({len(ok)} processed, {len(report.failed)} failed, "
        f"{report.skipped} skipped as already done)",
        f"- targets found: {report.n_targets}"
        + (f" ({n_empty} files without single targets)" if (n_empty := _n_empty(ok)) else ""),
        f"- wall time this run: {report.wall_time_s:.1f} s",
    ]
    if ok:
        secs = np.array([o.seconds for o in ok])
        mb = np.array([o.size_bytes for o in ok]) / 1e6
        lines.append(
            f"- time per file: median {np.median(secs):.2f} s, max {secs.max():.2f} s "
            f"({mb.sum() / max(secs.sum(), 1e-9):.2f} MB/s of raw data per worker)"
        )
    if report.failed:
        lines += ["", "## Failed files", ""]
        lines += [f"- {Path(o.path).name}: {o.reason}" for o in report.failed]
    if report.unreadable:
        names = ", ".join(p.name for p in report.unreadable[:10])
        more = f" and {len(report.unreadable) - 10} more" if len(report.unreadable) > 10 else ""
        lines += [
            "",
            f"{len(report.unreadable)} files in the input folders have a data suffix but no "
            f"installed source reads them; left alone: {names}{more}",
        ]
    if out.exists():
        from .spectra import read_spectra

        ds = read_spectra(out)
        if "pred_kind" in ds:
            counts = Counter(str(k) for k in ds["pred_kind"].values)
            lines += ["", "## Classes", ""]
            lines += [f"- {k}: {n}" for k, n in sorted(counts.items())]
            png = _size_histograms(ds, out.with_name(out.stem + "-sizes.png"))
            lines += ["", f"Size distributions per class: {png.name}"]
        lines += _trust_lines(ds)
    text = "\n".join(lines) + "\n"
    write_text_atomic(out.with_name(out.stem + "-report.md"), text)
    store = WorkStore(out)
    if store.dir.exists():
        store.mark_complete(report.outcomes)
    return text


def _trust_lines(ds) -> list[str]:
    """Counts of out-of-distribution and low-coverage targets (calibrated models only)."""
    if "pred_ood" not in ds:
        return []
    n = int(ds.sizes["target"])
    ood = int(np.asarray(ds["pred_ood"].values, dtype=bool).sum())
    low = int(np.asarray(ds["pred_low_coverage"].values, dtype=bool).sum())
    return [
        "",
        "## Trust",
        "",
        f"- out of distribution (flagged `pred_ood`): {ood} of {n}",
        f"- below the model's minimum coverage (`pred_low_coverage`): {low} of {n}",
    ]


def _size_histograms(ds, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ("pred_a", "pred_b", "pred_Req", "pred_theta") if n in ds]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5), squeeze=False)
    kinds = np.asarray(ds["pred_kind"].values).astype(str)
    for ax, name in zip(axes[0], names):
        values = ds[name].values.astype(float)
        scale, unit = (1.0, "deg") if name == "pred_theta" else (1e3, "mm")
        for kind in sorted(set(kinds)):
            v = values[kinds == kind] * scale
            ax.hist(v[np.isfinite(v)], bins=20, alpha=0.6, label=kind)
        ax.set_xlabel(f"{name.removeprefix('pred_')} ({unit})")
        ax.set_ylabel("targets")
        ax.legend()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
