"""``batch``: a whole cruise of data files -> one table of classified, sized targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import TsToolkitError
from .app import app, console, err_console
from .source_options import (
    CalibrationFile,
    Channels,
    MaxRange,
    MinRange,
    MinTs,
    SourceOptionPairs,
    source_options,
)


@app.command("batch")
def batch_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Data files, directories (searched recursively for the installed sources' "
            "file types) or glob patterns."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Combined output NetCDF.")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Trained model file (.tsm), or a bundled model: 'default' (the CNN, the "
            "default) or 'inversion' (library search + exact-model fit).",
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Local workers (default: CPUs).")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="'processes' (default local dask cluster), 'threads', 'synchronous', "
            "or a dask.distributed scheduler address."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Skip files already processed (re-running the same command always does)."
        ),
    ] = True,
    retry_failed: Annotated[bool, typer.Option(help="Process failed files again.")] = False,
    allow_partial: Annotated[
        bool,
        typer.Option(
            help="Accept files whose bands cover only part of the model's grid (a calibrated "
            "model: targets below its minimum coverage, then marked low_coverage)."
        ),
    ] = False,
    min_ts: MinTs = None,
    min_range: MinRange = None,
    max_range: MaxRange = None,
    channel: Channels = None,
    calibration: CalibrationFile = None,
    option: SourceOptionPairs = None,
    tracks: Annotated[
        bool,
        typer.Option(
            "--tracks",
            help="Follow each file's targets through its pings (alpha-beta tracker, per "
            "channel) and classify each track's TS(f), averaged in the linear domain, too: "
            "OUT.tracks.nc and OUT.tracks.csv, a track number per target, a Tracks section "
            "in the report (docs/tracks.md).",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace existing output files this batch did not write.")
    ] = False,
) -> None:
    """Extract and classify single targets in many EK80 files (resumable).

    Writes OUT (targets x frequency spectra + predictions), OUT.csv (one row per target),
    OUT-files.csv (one row per file: status, reason, targets, seconds) and a report with
    size histograms per class; with --tracks also OUT.tracks.nc and OUT.tracks.csv (one row
    per track). Exit status 1 means the batch completed with failures.
    Run again on a finished batch, it says "already complete" and does nothing.
    """
    from ..batch import WorkStore, run_batch
    from ..batch_report import write_report
    from ..batch_tracks import tracker_options
    from ..checks import check_scheduler, check_workers

    reading = source_options(option, min_ts, min_range, max_range, channel, calibration)
    from ..modelfile import resolve_model

    bundled = model is None or not Path(model).exists()
    model = resolve_model(model)
    if bundled:
        console.print(f"model: the bundled model ({model.name})")
    check_workers(workers)
    check_scheduler(scheduler)
    if not resume:
        import shutil

        from ..locks import output_lock

        with output_lock(out):  # never under a run that is using it
            shutil.rmtree(WorkStore(out).dir, ignore_errors=True)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files, {task.fields[targets]} targets"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("batch", total=None, targets=0)

        def on_file(outcome, done, total):
            progress.update(
                task,
                total=total,
                completed=done,
                targets=progress.tasks[0].fields["targets"] + outcome.n_targets,
            )

        report = run_batch(
            inputs,
            model,
            out,
            scheduler=scheduler,
            workers=workers,
            options={
                "allow_partial": allow_partial,
                "source": reading,
                **({"tracks": tracker_options()} if tracks else {}),
            },
            retry_failed=retry_failed,
            on_file=on_file,
            overwrite=overwrite,
        )
    if report.already_complete:
        tracked = f", {report.n_tracks} tracks" if report.tracked else ""
        console.print(
            f"already complete: {out} ({len(report.outcomes)} files, {report.n_targets} "
            f"targets{tracked}); nothing to do",
            markup=False,
            highlight=False,
        )
    else:
        text = write_report(report)
        console.print(text, markup=False, highlight=False)
    for outcome in report.outcomes:
        for message in outcome.warnings:
            err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
    if report.failed:
        err_console.print(
            f"completed with failures: {len(report.failed)} of "
            f"{len(report.outcomes)} files failed (see {out.stem}-files.csv)"
        )
        raise typer.Exit(1)
    if not report.outcomes:
        raise TsToolkitError("no files were processed")
