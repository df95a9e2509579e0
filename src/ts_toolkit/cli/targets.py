"""``extract`` and ``predict``: from measured files to classified targets.

Heavy modules (numpy, xarray, the source's readers) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import InputFileError, TsToolkitError
from .app import app, console, err_console, require_input
from .source_options import (
    CalibrationFile,
    Channels,
    MaxRange,
    MinRange,
    MinTs,
    SourceOptionPairs,
    source_options,
)

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")]


def _extract(path: Path, options: dict) -> object:
    """The spectra of ``path``, read by the first installed source that can open it."""
    from ..plugins import source_for
    from ..spectra import input_notes, input_warnings

    require_input(path)
    source = source_for(path)
    with console.status(f"extracting single targets from {path.name} ({source.name})"):
        spectra = source.open(path, **options)
    for message in input_warnings(spectra):  # what a damaged file lost, one line each
        err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
    for message in input_notes(spectra):  # e.g. no navigation: positions are NaN
        err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)
    return spectra


@app.command("extract")
def extract_command(
    path: Annotated[Path, typer.Argument(help="Data file (any format an installed source reads).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output spectra NetCDF (default: PATH's name with .spectra.nc)."
        ),
    ] = None,
    min_ts: MinTs = None,
    min_range: MinRange = None,
    max_range: MaxRange = None,
    channel: Channels = None,
    calibration: CalibrationFile = None,
    option: SourceOptionPairs = None,
    overwrite: Overwrite = False,
) -> None:
    """Detect single targets in an EK80 file and write their TS(f) spectra (NetCDF).

    Any file an installed source reads works the same way."""
    from ..outputs import check_outputs
    from ..spectra import write_spectra

    out = out or path.with_name(path.stem + ".spectra.nc")
    check_outputs([out], [path], overwrite)
    options = source_options(option, min_ts, min_range, max_range, channel, calibration)
    spectra = _extract(path, options)
    write_spectra(spectra, out)
    n = int(spectra.sizes["target"])
    f = spectra["frequency"].values
    band = f"{f.min() / 1e3:g}-{f.max() / 1e3:g} kHz" if f.size else "no band"
    console.print(
        f"{n} single target{'s' if n != 1 else ''} ({band}, calibration: "
        f"{spectra.attrs.get('calibration', '?')}) -> {out}"
    )
    if n == 0:
        console.print(f"detection counts: {spectra.attrs.get('detection_counts', '')}")


def _print_table(rows: list[dict], title: str, limit: int = 50) -> None:
    """The prediction table; with a calibrated model, 90 % intervals (in brackets), the
    coverage and the flags (OOD: out of distribution, low cov.: below minimum coverage);
    with the inversion, its misfit (RMS dB between measured and fitted spectrum)."""
    from rich.table import Table

    table = Table(title=title)
    dates = sorted({str(r.get("ping_time", ""))[:10] for r in rows} - {""})
    if dates:
        table.title = f"{title} ({', '.join(dates)} UTC)"
    trust = any("ood" in r for r in rows)
    tracked = any("track" in r for r in rows)  # targets tagged with their track
    counted = any("n_pings" in r for r in rows)  # one row per track
    columns = ["ping time", "range m", "kind", "p", "a mm", "b mm", "alpha", "Req mm", "theta°"]
    misfit = any("misfit" in r for r in rows)  # the physics-based inversion
    if trust:  # alpha and Req are in the output file; the intervals take their place
        columns = [*columns[:6], "theta°", "cover %", *(["misfit dB"] if misfit else []), "flags"]
    if tracked:
        columns = ["ping time", "track", *(["pings"] if counted else []), *columns[1:]]
    for col in columns:
        table.add_column(
            col, justify="left" if col in ("kind", "flags") else "right", no_wrap=col == "ping time"
        )

    def num(v: object, scale: float = 1.0, fmt: str = ".1f") -> str:
        try:
            return format(float(v) * scale, fmt)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "-"

    def span(row: dict, name: str, scale: float = 1.0, fmt: str = ".1f") -> str:
        low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
        return f"{num(low, scale, fmt)}–{num(high, scale, fmt)}"

    for row in rows[:limit]:
        track = []
        if tracked:
            number = int(row.get("track", -1))
            track = [str(number) if number >= 0 else "-"]
            track += [str(row.get("n_pings", ""))] if counted else []
        head = [
            str(row.get("ping_time", ""))[11:],
            *track,
            num(row.get("range"), fmt=".2f"),
            str(row.get("kind", "")),
            num(row.get("probability"), fmt=".2f"),
        ]
        if trust:
            flags = [f for f, key in (("OOD", "ood"), ("low cov.", "low_coverage")) if row.get(key)]
            cells = [  # the value over its 90 % interval
                f"{num(row.get('a'), 1e3)}\n{span(row, 'a', 1e3)}",
                f"{num(row.get('b'), 1e3)}\n{span(row, 'b', 1e3)}",
                f"{num(row.get('theta'), fmt='.0f')}\n{span(row, 'theta', fmt='.0f')}",
                num(row.get("coverage"), 100.0, ".0f"),
                *([num(row.get("misfit"))] if misfit else []),
                ", ".join(flags),
            ]
        else:
            cells = [
                num(row.get("a"), 1e3),
                num(row.get("b"), 1e3),
                num(row.get("alpha"), fmt=".2f"),
                num(row.get("Req"), 1e3),
                num(row.get("theta"), fmt=".0f"),
            ]
        table.add_row(*head, *cells)
    console.print(table)
    if len(rows) > limit:
        console.print(f"... {len(rows) - limit} more rows in the output file")
    if trust and rows:
        n_ood = sum(bool(r.get("ood")) for r in rows)
        n_low = sum(bool(r.get("low_coverage")) for r in rows)
        console.print(
            f"{n_ood} of {len(rows)} targets out of distribution (OOD: unlike every training "
            f"spectrum; do not trust their values), {n_low} below the model's minimum coverage; "
            "under each value: its 90 % interval (docs/trust.md)",
            markup=False,
        )


def _consensus_row(track_row: dict, ping_rows: list[dict]) -> dict:
    """A track's row as printed: the kind most of its pings were given (p: their share)
    and the medians of its pings' predictions; the file also has the prediction for the
    track's averaged TS(f) (see docs/tracks.md for which to trust)."""
    shown = dict(track_row)
    kind = track_row.get("majority_pred_kind")
    if kind is None:
        return shown
    members = [r for r in ping_rows if r.get("track") == track_row.get("track")]
    shown["kind"] = kind
    shown["probability"] = sum(r.get("kind") == kind for r in members) / max(len(members), 1)
    for name in ("a", "b", "alpha", "Req", "theta"):
        if f"median_pred_{name}" in track_row:
            shown[name] = track_row[f"median_pred_{name}"]
    return shown


def _model_min_ts(model: object) -> float:
    """The detection threshold ``predict`` uses without ``--min-ts`` (printed)."""
    from ..apply import model_detection_threshold

    found = model_detection_threshold(model)
    if found is None:
        console.print(
            "detection threshold -50 dB (the model file records no training TS range; "
            "give --min-ts, or add the range with scripts/add_training_ts.py)"
        )
        return -50.0
    console.print(f"detection threshold {found[1]}")
    return found[0]


@app.command("predict")
def predict_command(
    path: Annotated[Path, typer.Argument(help="Data file (any format an installed source reads).")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Trained model file (.tsm), or a bundled model: 'default' (the CNN, the "
            "default) or 'inversion' (library search + exact-model fit, docs/inversion.md).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write predictions to .nc (spectra + predictions) or .csv."
        ),
    ] = None,
    band_subset: Annotated[
        bool,
        typer.Option(
            "--band-subset",
            help="Accept bands that cover only part of the model's grid: below a "
            "calibrated model's minimum coverage (targets then marked low_coverage), or any "
            "gap for a model without calibration (unmeasured model frequencies are NaN).",
        ),
    ] = False,
    tracks: Annotated[
        bool,
        typer.Option(
            "--tracks",
            help="Follow targets through pings (alpha-beta tracker) and classify each "
            "track's TS(f), averaged in the linear domain, too; with --out, the tracks go "
            "to OUT's name with .tracks before the suffix.",
        ),
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write one PNG per target to this folder: the measured TS(f), the "
            "physics-based inversion's fitted spectrum and the spectrum of the learned "
            "model's answer (the bundled 'default' and 'inversion' models are the "
            "companions), with the measured bands shaded.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write a self-contained HTML report to this .html file: counts, size "
            "and tilt histograms per class, depth against time, a map where the file has "
            "positions, a TS(f) gallery with intervals and flags (and, with --tracks, the "
            "tracks).",
        ),
    ] = None,
    min_ts: MinTs = None,
    min_range: MinRange = None,
    max_range: MaxRange = None,
    channel: Channels = None,
    calibration: CalibrationFile = None,
    option: SourceOptionPairs = None,
    overwrite: Overwrite = False,
) -> None:
    """Classify the single targets of an EK80 file with a trained model.

    Detects single targets, computes their TS(f), and prints and writes the table (ping time,
    range, kind + probability, a, b, alpha, Req, theta). Any file an installed source reads
    works the same way."""
    from ..apply import predict_spectra, prediction_rows, write_predictions
    from ..modelfile import load_model, resolve_model

    require_input(path)
    model = resolve_model(model)
    tracks_out = None
    if report is not None:
        from ..outputs import check_outputs

        if report.suffix.lower() not in (".html", ".htm"):
            raise InputFileError(f"--report {report}: the report is HTML; name it .html")
        check_outputs([report], [path, model], overwrite)
    if plot is not None:
        _check_plot_dir(plot, overwrite)
    if out is not None:
        from ..conventions import provenance_sidecar
        from ..outputs import check_outputs

        tracks_out = out.with_name(f"{out.stem}.tracks{out.suffix}") if tracks else None
        written = [out, *([tracks_out] if tracks_out else [])]
        if out.suffix.lower() == ".csv":  # each table has its provenance beside it
            written += [provenance_sidecar(p) for p in list(written)]
        check_outputs(written, [path, model], overwrite)
        if out.suffix.lower() not in (".nc", ".csv"):
            raise InputFileError(f"--out {out}: unknown format {out.suffix!r}; use .nc or .csv")
    options = source_options(option, min_ts, min_range, max_range, channel, calibration)
    loaded = load_model(model)
    if "min_ts" not in options:
        options["min_ts"] = _model_min_ts(loaded)
    spectra = _extract(path, options)
    n = int(spectra.sizes["target"])
    if n == 0:
        console.print(
            f"{path.name}: no single targets detected (detection counts: "
            f"{spectra.attrs.get('detection_counts', '')})"
        )
        result, rows = spectra, []
        track_result, track_rows = None, []
    else:
        track_result, track_rows = None, []
        if tracks:
            from ..tracks import track_targets

            spectra, per_track = track_targets(spectra)
        result = predict_spectra(loaded, spectra, allow_partial=band_subset, model_file=model)
        rows = prediction_rows(result)
        _print_table(rows, f"{path.name}: {n} single target{'s' if n != 1 else ''}")
        if tracks:
            m = int(per_track.sizes["target"])
            track_result = (
                predict_spectra(loaded, per_track, allow_partial=band_subset, model_file=model)
                if m
                else per_track
            )
            if m:
                from ..tracks import add_ping_consensus

                track_result = add_ping_consensus(track_result, result)
            track_rows = prediction_rows(track_result)
            title = f"{path.name}: {m} track{'s' if m != 1 else ''}"
            untracked = per_track.attrs.get("untracked_targets", 0)
            if m == 0:
                console.print(
                    f"{title}: none of the {untracked} targets was followed over enough "
                    "pings (a track needs 3 detections by default; docs/tracks.md)"
                )
            else:
                _print_table(
                    [_consensus_row(r, rows) for r in track_rows],
                    f"{title} ({untracked} targets in no track; median of each track's "
                    "per-ping predictions, p = share of its pings given that kind)",
                )
    if out is not None:
        write_predictions(result, rows, out)
        console.print(f"wrote {out}")
        if tracks_out is not None and track_result is not None:
            write_predictions(track_result, track_rows, tracks_out)
            console.print(f"wrote {tracks_out}")
    if plot is not None and n:
        written_plots = _fit_plots(loaded, model, spectra, result, plot)
        console.print(f"wrote {len(written_plots)} plots to {plot}")
    if report is not None:
        from ..html_report import write_html_report

        write_html_report(
            report,
            result,
            title=f"ts-toolkit predict: {path.name}",
            summary=[f"file: {path.name}", f"model: {model.name}", f"single targets: {n}"],
            tracks=track_result,
        )
        console.print(f"wrote {report}")


def _check_plot_dir(folder: Path, overwrite: bool) -> None:
    """Refuse a plot folder that is a file, or that holds target plots already (unless
    ``overwrite``)."""
    if folder.exists() and not folder.is_dir():
        raise InputFileError(f"--plot {folder}: not a folder")
    if folder.is_dir() and any(folder.glob("target-*.png")) and not overwrite:
        raise InputFileError(
            f"--plot {folder}: holds target plots already; pass --overwrite to replace them"
        )


def _fit_plots(loaded: Any, model_path: Path, spectra: Any, result: Any, folder: Path) -> list:
    """Per-target plots of the measured spectrum, the inversion's fit and the learned
    model's answer: the model used is one of the two, a bundled model the other."""
    from ..apply import predict_spectra
    from ..fitplots import plot_target_fits
    from ..modelfile import load_model, resolve_model

    if hasattr(loaded, "model_spectrum"):  # the inversion itself; the CNN as companion
        inversion, inverted = loaded, result
        try:
            learned_model = load_model(resolve_model("default"))
            learned = predict_spectra(learned_model, spectra, allow_partial=True)
            learned_name = "default model"
        except (TsToolkitError, ImportError) as exc:
            err_console.print(f"note: no learned model to compare with ({exc})")
            learned, learned_name = None, ""
    else:
        inversion = load_model(resolve_model("inversion"))
        inverted = predict_spectra(inversion, spectra, allow_partial=True)
        learned, learned_name = result, f"{model_path.stem} model"
    return plot_target_fits(spectra, inversion, inverted, learned, folder, learned_name)
