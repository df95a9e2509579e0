"""The final report of a batch: counts, failures with reasons, classes, size histograms
(``<out>-report.md`` with ``<out>-sizes.png``) and the self-contained HTML cruise report
(``<out>-report.html``, :mod:`ts_toolkit.html_report`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .batch import BatchReport, WorkStore, tracks_outputs
from .html_report import size_histogram_figure, write_html_report
from .outputs import atomic_output, write_text_atomic
from .report_fits import report_fit_figures


def _n_empty(ok: list) -> int:
    return sum(o.n_targets == 0 for o in ok)


def write_report(report: BatchReport) -> str:
    """Write ``<out>-report.md``, ``<out>-sizes.png`` and ``<out>-report.html``; return the
    Markdown report's text.

    The last step of a batch: afterwards its work folder is marked complete, so that the
    same command run again says so and does nothing."""
    out = report.out
    ok = [o for o in report.outcomes if o.status == "ok"]
    tracks = _read_tracks(report)
    lines = [
        f"# Batch report: {out.name}",
        "",
        f"- files: {len(report.outcomes)} ({len(ok)} processed, {len(report.failed)} failed, "
        f"{report.skipped} skipped as already done)",
        f"- targets found: {report.n_targets}"
        + (f" ({n_empty} files without single targets)" if (n_empty := _n_empty(ok)) else ""),
        *_track_lines(report, tracks),
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
        lines += _trust_lines(ds)
    if tracks is not None:
        names = ", ".join(p.name for p in tracks_outputs(out)[:2])
        lines += ["", f"Tracks (one row per track: averaged TS(f), predictions): {names}"]
    html_path = out.with_name(out.stem + "-report.html")
    fits, fits_note = report_fit_figures(ds, report.model_path) if ds is not None else ([], "")
    if fits:
        lines += ["", f"Inversion fits of {len(fits)} targets: in the HTML report"]
    write_html_report(
        html_path,
        ds,
        tracks=tracks,
        fits=fits,
        fits_note=fits_note,
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


def _read_tracks(report: BatchReport):
    """The tracks table of a tracked batch that found tracks, else None."""
    table = tracks_outputs(report.out)[0]
    if not (report.tracked and report.n_tracks and table.exists()):
        return None
    from .spectra import read_spectra

    return read_spectra(table)


def _track_lines(report: BatchReport, tracks) -> list[str]:
    """The summary line on tracks of a tracked batch ([] for an untracked one)."""
    if not report.tracked:
        return []
    n = 0 if tracks is None else int(tracks.sizes["target"])
    members = 0 if tracks is None else int(tracks["n_pings"].values.sum())
    return [f"- tracks: {n} ({members} targets in tracks, per file and channel)"]


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
    """Save the per-class size and tilt histograms as a PNG at ``path``."""
    fig = size_histogram_figure(ds)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
