"""A self-contained HTML report of classified targets (``batch`` and ``predict --report``).

One file, no network: the figures are PNG images inlined as ``data:`` URIs and the styles
are inline CSS; there is no script. It shows what a cruise leader asks first:

- counts per class (with the median size and tilt, and how many were flagged out of
  distribution or measured below the model's minimum coverage when the model is calibrated);
- histograms of a, b, Req and theta per class;
- depth (or, without depth, range) against ping time, coloured by class;
- a map of the detections where the input had positions (``latitude``/``longitude``);
- a gallery of TS(f) per class, with each prediction's 90 % interval and flags when the
  model provides them, and a gallery of the targets flagged out of distribution;
- when the targets were tracked through pings, a *Tracks* section: how many tracks and
  targets in them, a table of tracks (first ping time, pings, mean range, the prediction on
  the averaged TS(f) and the consensus of the track's pings) and the averaged TS(f) of the
  longest tracks with their spread;
- the files that failed, with their reasons.

It reads only generic variables of a predictions Dataset (``TS``, ``pred_*``, ``ping_time``,
``range``, ``depth``, ``latitude``, ``longitude``), so any source and any classifier work.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .outputs import write_text_atomic

#: Targets shown per class in the TS(f) gallery.
GALLERY_PER_CLASS = 6
#: Rows of the tracks table (the whole table is in the tracks file).
TRACK_TABLE_ROWS = 100
#: Tracks whose averaged TS(f) is drawn (the longest ones).
TRACK_GALLERY = 6
#: Colours per class, in the order of the sorted class names (matplotlib's tab10).
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; height: auto; }
.note { color: #555; font-size: 0.92em; }
.failed td { color: #a00; }
.tracks td { white-space: nowrap; }
"""


def _figure_uri(fig: Any) -> str:
    """The figure as a ``data:image/png;base64`` URI (and the figure closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _kinds(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["pred_kind"].values).astype(str)


def _colour(classes: Sequence[str], kind: str) -> str:
    return CLASS_COLOURS[list(classes).index(kind) % len(CLASS_COLOURS)]


def _flag(ds: xr.Dataset, name: str) -> np.ndarray:
    """A boolean per-target flag (``pred_ood``, ``pred_low_coverage``); False when absent."""
    if f"pred_{name}" not in ds:
        return np.zeros(int(ds.sizes["target"]), dtype=bool)
    return np.asarray(ds[f"pred_{name}"].values).astype(bool)


def size_histogram_figure(ds: xr.Dataset) -> Any:
    """Histograms of the predicted a, b, Req (mm) and theta (degrees) per class."""
    plt = _pyplot()
    names = [n for n in ("pred_a", "pred_b", "pred_Req", "pred_theta") if n in ds]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5), squeeze=False)
    kinds = _kinds(ds)
    classes = sorted(set(kinds))
    for ax, name in zip(axes[0], names, strict=True):
        values = ds[name].values.astype(float)
        scale, unit = (1.0, "deg") if name == "pred_theta" else (1e3, "mm")
        for kind in classes:
            v = values[kinds == kind] * scale
            ax.hist(v[np.isfinite(v)], bins=20, alpha=0.6, label=kind, color=_colour(classes, kind))
        ax.set_xlabel(f"{name.removeprefix('pred_')} ({unit})")
        ax.set_ylabel("targets")
        ax.legend()
    fig.tight_layout()
    return fig


def _depth_time_figure(ds: xr.Dataset) -> tuple[Any, str] | None:
    """Depth (or range) against ping time (or target number) per class, and what the
    vertical axis is; None when the targets have neither depth nor range."""
    depth = ds["depth"].values.astype(float) if "depth" in ds else None
    use_depth = depth is not None and bool(np.isfinite(depth).any())
    if not use_depth and "range" not in ds:
        return None
    plt = _pyplot()
    y = depth if use_depth else ds["range"].values.astype(float)
    label = "depth (m)" if use_depth else "range from the transducer (m)"
    timed = "ping_time" in ds
    t = ds["ping_time"].values if timed else np.arange(int(ds.sizes["target"]))
    kinds = _kinds(ds)
    classes = sorted(set(kinds))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for kind in classes:
        sel = kinds == kind
        ax.scatter(t[sel], y[sel], s=12, label=kind, color=_colour(classes, kind))
    if timed:
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.invert_yaxis()
    ax.set_xlabel("ping time (UTC)" if timed else "target number")
    ax.set_ylabel(label)
    ax.legend()
    fig.tight_layout()
    return fig, label


def _map_figure(ds: xr.Dataset) -> Any | None:
    """Detections on longitude/latitude per class; None without any position."""
    if "latitude" not in ds or "longitude" not in ds:
        return None
    lat = ds["latitude"].values.astype(float)
    lon = ds["longitude"].values.astype(float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return None
    plt = _pyplot()
    kinds = _kinds(ds)
    classes = sorted(set(kinds))
    fig, ax = plt.subplots(figsize=(6, 5))
    for kind in classes:
        sel = ok & (kinds == kind)
        ax.scatter(lon[sel], lat[sel], s=14, label=kind, color=_colour(classes, kind))
    ax.set_aspect(1.0 / max(np.cos(np.radians(np.nanmean(lat[ok]))), 1e-3), adjustable="datalim")
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.ticklabel_format(useOffset=False)
    ax.legend()
    fig.tight_layout()
    return fig


def _interval(ds: xr.Dataset, name: str, i: int, scale: float, fmt: str) -> str:
    low, high = f"pred_{name}_low", f"pred_{name}_high"
    if low not in ds or high not in ds:
        return ""
    lo, hi = float(ds[low].values[i]) * scale, float(ds[high].values[i]) * scale
    return f" [{lo:{fmt}}–{hi:{fmt}}]"


def _caption(ds: xr.Dataset, i: int) -> str:
    """One target's prediction in a line: kind, p, a, b, theta with 90 % intervals, flags."""
    parts = [f"{ds['pred_kind'].values[i]} p={float(ds['pred_probability'].values[i]):.2f}"]
    for name, scale, unit, fmt in (("a", 1e3, "mm", ".1f"), ("b", 1e3, "mm", ".1f")):
        if f"pred_{name}" in ds:
            value = float(ds[f"pred_{name}"].values[i]) * scale
            parts.append(f"{name} {value:{fmt}}{_interval(ds, name, i, scale, fmt)} {unit}")
    if "pred_theta" in ds:
        theta = float(ds["pred_theta"].values[i])
        parts.append(f"θ {theta:.0f}{_interval(ds, 'theta', i, 1.0, '.0f')}°")
    flags = [
        f for f, key in (("OOD", "ood"), ("low coverage", "low_coverage")) if _flag(ds, key)[i]
    ]
    return ", ".join(parts) + (f" — {', '.join(flags)}" if flags else "")


def _gallery_figure(ds: xr.Dataset, index: Sequence[int], colour: str) -> Any:
    """TS(f) of the targets ``index`` in a grid of panels, each titled with its prediction
    (flagged targets' titles in red)."""
    plt = _pyplot()
    n = len(index)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 2.9 * rows), squeeze=False)
    f_khz = ds["frequency"].values / 1e3
    ood, low = _flag(ds, "ood"), _flag(ds, "low_coverage")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, i in zip(axes.flat, index, strict=False):
        ax.plot(f_khz, ds["TS"].values[i], color=colour, lw=1.0)
        where = [f"target {i}"]
        if "ping_time" in ds:
            where = [str(np.datetime_as_string(ds["ping_time"].values[i], unit="s"))[11:]]
        if "range" in ds:
            where.append(f"{float(ds['range'].values[i]):.1f} m")
        ax.set_title(f"{', '.join(where)}\n{_caption(ds, i)}", fontsize=7.5,
                     color="#b00" if (ood[i] or low[i]) else "#222")  # fmt: skip
        ax.set_xlabel("frequency (kHz)", fontsize=8)
        ax.set_ylabel("TS (dB re 1 m²)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def _pick(index: np.ndarray, k: int) -> list[int]:
    """Up to ``k`` of ``index`` spread evenly over it (first and last included)."""
    if index.size <= k:
        return [int(i) for i in index]
    return [int(index[j]) for j in np.linspace(0, index.size - 1, k).round().astype(int)]


def _count_table(ds: xr.Dataset) -> str:
    kinds = _kinds(ds)
    ood, low = _flag(ds, "ood"), _flag(ds, "low_coverage")
    trust = "pred_ood" in ds
    head = ["class", "targets", "median a (mm)", "median b (mm)", "median θ (°)"]
    head += ["OOD", "low coverage"] if trust else []
    rows = []
    for kind in sorted(set(kinds)):
        sel = kinds == kind

        def median(name: str, scale: float, sel: np.ndarray = sel) -> str:
            if name not in ds:
                return "–"
            v = ds[name].values.astype(float)[sel] * scale
            return f"{np.nanmedian(v):.1f}" if np.isfinite(v).any() else "–"

        cells = [kind, str(int(sel.sum())), median("pred_a", 1e3), median("pred_b", 1e3)]
        cells += [median("pred_theta", 1.0)]
        cells += [str(int(ood[sel].sum())), str(int(low[sel].sum()))] if trust else []
        rows.append(cells)
    return _table(head, rows)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    out = [f"<table{cls}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return "\n".join(out) + "\n</table>"


def _img(uri: str, alt: str) -> str:
    return f'<p><img src="{uri}" alt="{html.escape(alt)}"></p>'


def build_html_report(
    ds: xr.Dataset | None,
    *,
    title: str,
    summary: Sequence[str] = (),
    failures: Sequence[tuple[str, str]] = (),
    tracks: xr.Dataset | None = None,
    fits: Sequence[Any] = (),
    fits_note: str = "",
) -> str:
    """The report's HTML text. ``ds``: predictions (``TS``, ``pred_*`` ...) or None when
    nothing was classified; ``summary``: lines for the top list; ``failures``: (file,
    reason) pairs; ``tracks``: the per-track predictions (one row per track:
    ``n_pings``, averaged ``TS`` with ``TS_spread``, ``pred_*``, ``majority_pred_kind``,
    ``median_pred_*``; :mod:`ts_toolkit.tracks`). The *Tracks* section is there when
    ``tracks`` is given or the targets have a ``track`` number. ``fits``: matplotlib
    figures of targets' fitted spectra (:mod:`ts_toolkit.report_fits`), shown with
    ``fits_note`` in an *Inversion fits* section."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="note">written {now} by ts-toolkit</p>']
    if summary:
        body.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary) + "</ul>")
    has_targets = ds is not None and "pred_kind" in ds and int(ds.sizes["target"]) > 0
    if not has_targets:
        body.append("<p>No classified targets.</p>")
    else:
        assert ds is not None
        body += ["<h2>Classes</h2>", _count_table(ds)]
        if "pred_ood" in ds:
            body.append(
                '<p class="note">OOD: the spectrum is unlike every training spectrum of the '
                "model, so its values are not to be trusted; low coverage: the measured bands "
                "cover less of the model's band than its calibrated minimum.</p>"
            )
        body += ["<h2>Size and tilt per class</h2>"]
        body.append(_img(_figure_uri(size_histogram_figure(ds)), "histograms per class"))
        depth_time = _depth_time_figure(ds)
        if depth_time is not None:
            fig, label = depth_time
            body += [f"<h2>{html.escape(label.split(' (')[0].capitalize())} against time</h2>"]
            body.append(_img(_figure_uri(fig), f"{label} against ping time"))
        body.append("<h2>Map</h2>")
        fig = _map_figure(ds)
        if fig is None:
            body.append('<p class="note">The input files hold no positions.</p>')
        else:
            body.append(_img(_figure_uri(fig), "map of the detections"))
        body += _gallery_sections(ds)
    if fits:
        body += ["<h2>Inversion fits</h2>", f'<p class="note">{html.escape(fits_note)}</p>']
        body += [_img(_figure_uri(fig), "measured TS(f) with fitted spectra") for fig in fits]
    if tracks is not None or (ds is not None and "track" in ds):
        body += _tracks_section(ds, tracks)
    body.append("<h2>Failed files</h2>")
    if failures:
        body.append(_table(["file", "reason"], failures, css="failed"))
    else:
        body.append("<p>None.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _gallery_sections(ds: xr.Dataset) -> list[str]:
    kinds = _kinds(ds)
    classes = sorted(set(kinds))
    out = [
        "<h2>TS(f) per class</h2>",
        f'<p class="note">Up to {GALLERY_PER_CLASS} targets per class, spread over the '
        "survey; each title: the prediction"
        + (
            " with its 90 % interval in brackets, flagged targets in red."
            if "pred_a_low" in ds
            else "."
        )  # fmt: skip
        + "</p>",
    ]
    for kind in classes:
        index = _pick(np.flatnonzero(kinds == kind), GALLERY_PER_CLASS)
        out.append(f"<h3>{html.escape(kind)}</h3>")
        fig = _gallery_figure(ds, index, _colour(classes, kind))
        out.append(_img(_figure_uri(fig), f"TS(f) of {kind} targets"))
    flagged = np.flatnonzero(_flag(ds, "ood"))
    if flagged.size:
        out.append(f"<h3>Flagged out of distribution ({flagged.size})</h3>")
        fig = _gallery_figure(ds, _pick(flagged, GALLERY_PER_CLASS), "#555")
        out.append(_img(_figure_uri(fig), "TS(f) of targets flagged out of distribution"))
    return out


def _tracks_section(ds: xr.Dataset | None, tracks: xr.Dataset | None) -> list[str]:
    """*Tracks*: counts, the table of tracks and the averaged TS(f) of the longest ones."""
    n = 0 if tracks is None else int(tracks.sizes["target"])
    if ds is not None and "track" in ds:
        member = np.asarray(ds["track"].values).astype(int)
        counts = f"{int((member >= 0).sum())} of {member.size} targets in tracks"
    else:
        member = None
        counts = f"{int(tracks['n_pings'].values.sum()) if n else 0} targets in tracks"
    out = [
        "<h2>Tracks</h2>",
        f"<p>{n} track{'s' if n != 1 else ''}; {counts} (targets followed through "
        "consecutive pings, per file and channel).</p>",
    ]
    if n == 0 or tracks is None or "pred_kind" not in tracks:
        out.append("<p>No target was followed over enough pings to make a track.</p>")
        return out
    out.append(_track_table(tracks, ds, member))
    if n > TRACK_TABLE_ROWS:
        out.append(f'<p class="note">The first {TRACK_TABLE_ROWS} of {n} tracks; all are in '
                   "the tracks table.</p>")  # fmt: skip
    out.append(
        '<p class="note">Averaged: the prediction on the track\'s TS(f) averaged in the '
        "linear domain; pings: the kind most of its pings were given (their share) and the "
        "median of their sizes and tilts. Where the animal's tilt changed along the track, "
        "the pings' consensus is the better guide (docs/tracks.md).</p>"
    )
    longest = np.sort(np.argsort(-tracks["n_pings"].values, kind="stable")[:TRACK_GALLERY])
    kinds = sorted(set(_kinds(tracks)) | (set(_kinds(ds)) if ds is not None else set()))
    out.append(f"<h3>Averaged TS(f) of the {longest.size} longest tracks</h3>")
    out.append('<p class="note">Shaded: ± the standard deviation of the members\' TS at '
               "each frequency.</p>")  # fmt: skip
    fig = _track_figure(tracks, [int(k) for k in longest], kinds)
    out.append(_img(_figure_uri(fig), "averaged TS(f) of tracks with their spread"))
    return out


def _track_table(tracks: xr.Dataset, ds: xr.Dataset | None, member: np.ndarray | None) -> str:
    """One row per track (the first :data:`TRACK_TABLE_ROWS`)."""

    def value(name: str, k: int, scale: float, fmt: str) -> str:
        if name not in tracks:
            return "–"
        v = float(tracks[name].values[k]) * scale
        return f"{v:{fmt}}" if np.isfinite(v) else "–"

    head = ["track", "first ping (UTC)", "pings", "mean range (m)", "averaged: kind (p)"]
    head += ["a (mm)", "b (mm)", "θ (°)", "pings: kind (share)", "median a (mm)"]
    head += ["median b (mm)", "median θ (°)"]
    rows = []
    for k in range(min(int(tracks.sizes["target"]), TRACK_TABLE_ROWS)):
        number = int(tracks["track"].values[k])
        first = "–"
        if "ping_time" in tracks:
            first = str(np.datetime_as_string(tracks["ping_time"].values[k], unit="s"))
            first = first.replace("T", " ")
        kind = f"{tracks['pred_kind'].values[k]}"
        if "pred_probability" in tracks:
            kind += f" ({float(tracks['pred_probability'].values[k]):.2f})"
        consensus = "–"
        if "majority_pred_kind" in tracks:
            consensus = str(tracks["majority_pred_kind"].values[k])
            if member is not None and ds is not None and "pred_kind" in ds:
                mine = member == number
                if mine.any():
                    share = float(np.mean(_kinds(ds)[mine] == consensus))
                    consensus += f" ({share:.2f})"
        rows.append(
            [
                str(number),
                first,
                str(int(tracks["n_pings"].values[k])),
                value("range", k, 1.0, ".1f"),
                kind,
                value("pred_a", k, 1e3, ".1f"),
                value("pred_b", k, 1e3, ".1f"),
                value("pred_theta", k, 1.0, ".0f"),
                consensus,
                value("median_pred_a", k, 1e3, ".1f"),
                value("median_pred_b", k, 1e3, ".1f"),
                value("median_pred_theta", k, 1.0, ".0f"),
            ]
        )
    return _table(head, rows, css="tracks")


def _track_figure(tracks: xr.Dataset, index: Sequence[int], classes: Sequence[str]) -> Any:
    """Averaged TS(f) of the tracks ``index`` (one panel each) with the band of ±
    ``TS_spread`` (the standard deviation of the members' TS), coloured by the averaged
    spectrum's predicted kind."""
    plt = _pyplot()
    n = len(index)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 2.9 * rows), squeeze=False)
    f_khz = tracks["frequency"].values / 1e3
    kinds = _kinds(tracks)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, k in zip(axes.flat, index, strict=False):
        colour = _colour(classes, kinds[k]) if kinds[k] in classes else "#555"
        ts = tracks["TS"].values[k].astype(float)
        if "TS_spread" in tracks:
            spread = tracks["TS_spread"].values[k].astype(float)
            ax.fill_between(f_khz, ts - spread, ts + spread, color=colour, alpha=0.25, lw=0)
        ax.plot(f_khz, ts, color=colour, lw=1.0)
        where = [f"track {int(tracks['track'].values[k])}"]
        if "ping_time" in tracks:
            where.append(str(np.datetime_as_string(tracks["ping_time"].values[k], unit="s"))[11:])
        where.append(f"{int(tracks['n_pings'].values[k])} pings")
        if "range" in tracks:
            where.append(f"{float(tracks['range'].values[k]):.1f} m")
        ax.set_title(f"{', '.join(where)}\n{_caption(tracks, k)}", fontsize=7.5)
        ax.set_xlabel("frequency (kHz)", fontsize=8)
        ax.set_ylabel("TS (dB re 1 m²)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def write_html_report(
    path: Path,
    ds: xr.Dataset | None,
    *,
    title: str,
    summary: Sequence[str] = (),
    failures: Sequence[tuple[str, str]] = (),
    tracks: xr.Dataset | None = None,
    fits: Sequence[Any] = (),
    fits_note: str = "",
) -> Path:
    """Write :func:`build_html_report`'s text to ``path`` atomically; return ``path``."""
    text = build_html_report(
        ds,
        title=title,
        summary=summary,
        failures=failures,
        tracks=tracks,
        fits=fits,
        fits_note=fits_note,
    )
    write_text_atomic(path, text)
    return path
