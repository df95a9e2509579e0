"""The final report of a batch: counts, failures with reasons, classes, size histograms
(``<out>-report.md`` with ``<out>-sizes.png``) and the self-contained HTML cruise report
(``<out>-report.html``, :mod:`ts_toolkit.html_report`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .batch import BatchReport, WorkStore
from .html_report import size_histogram_figure, write_html_report
from .outputs import atomic_output, write_text_atomic


def _n_empty(ok: list) -> int:
    return sum(o.n_targets == 0 for o in ok)


def write_report(report: BatchReport) -> str:
    """Write ``<out>-report.md``, ``<out>-sizes.png`` and ``<out>-report.html``; return the
    Markdown report's text.

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
    summary = [ln.removeprefix("- ") for ln in lines if ln.startswith("- ")]
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
    ds = None
    if out.exists():
        from .spectra import read_spectra

        ds = read_spectra(out)
        if "pred_kind" in ds:
            counts = Counter(str(k) for k in ds["pred_kind"].values)
            lines += ["", "## Classes", ""]
            lines += [f"- {k}: {n}" for k, n in sorted(counts.items())]
            png = _size_histograms(ds, out.with_name(out.stem + "-sizes.png"))
            lines += ["", f"Size distributions per class: {png.name}"]
    html_path = out.with_name(out.stem + "-report.html")
    write_html_report(
        html_path,
        ds,
        title=f"Batch report: {out.name}",
        summary=summary,
        failures=[(Path(o.path).name, o.reason) for o in report.failed],
    )
    lines += ["", f"HTML report (figures, map, TS(f) gallery): {html_path.name}"]
    text = "\n".join(lines) + "\n"
    write_text_atomic(out.with_name(out.stem + "-report.md"), text)
    store = WorkStore(out)
    if store.dir.exists():
        store.mark_complete(report.outcomes)
    return text


def _size_histograms(ds, path: Path) -> Path:
    """Save the per-class size and tilt histograms as a PNG at ``path``."""
    fig = size_histogram_figure(ds)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
