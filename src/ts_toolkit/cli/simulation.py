"""``simulate`` and ``plot-spectra``: simulated training data and a look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import Interrupted, TsToolkitError
from .app import app, console, err_console, require_file


@app.command("simulate")
def simulate_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output spectra NetCDF file.")],
    n: Annotated[
        int | None,
        typer.Option(
            help="Total number of spectra, split over the kinds in proportion "
            "(default: the space's counts; Table I: 30,000)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 1).")] = None,
    space: Annotated[
        Path | None, typer.Option(help="Parameter-space TOML file (default: the paper's Table I).")
    ] = None,
    simulator: Annotated[str, typer.Option(help="Simulator plugin name.")] = "prolate-spheroid",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="'processes' (default local dask cluster), 'threads', 'synchronous', "
            "or a dask.distributed scheduler address."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Local workers (default: CPUs).")] = None,
    chunk_size: Annotated[int, typer.Option(help="Spectra per task.")] = 50,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Simulate a training dataset of TS(f) spectra (resumable: re-run the same command).

    Run again once finished, it says "already complete" and does nothing."""
    from ..checks import check_count, check_scheduler, check_seed, check_workers
    from ..outputs import refuse_inputs
    from ..parameters import load_space, table1_space
    from ..simulation import simulate

    check_seed(seed)
    check_count(n, "--n")
    check_count(chunk_size, "--chunk-size")
    check_workers(workers)
    check_scheduler(scheduler)
    refuse_inputs([out], [space])
    ps = load_space(space) if space is not None else table1_space()
    if n is not None:
        ps = ps.with_total(n)
    if seed is None:
        seed = int(ps.extra.get("seed", 1))
    console.print(
        f"simulating {ps.n_targets} spectra ({', '.join(f'{k.count} {k.kind}' for k in ps.kinds)})"
        f" on {ps.frequency.size} frequencies {ps.frequency[0] / 1e3:g}-"
        f"{ps.frequency[-1] / 1e3:g} kHz with {simulator!r}, seed {seed}"
    )
    try:
        report = simulate(
            ps,
            out,
            seed=seed,
            simulator=simulator,
            chunk_size=chunk_size,
            scheduler=scheduler,
            workers=workers,
            overwrite=overwrite,
        )
    except KeyboardInterrupt:  # exit status 130 (cli.main), saying how to resume
        raise Interrupted(
            "interrupted; finished chunks are kept - re-run the same command to resume"
        ) from None
    if report.already_complete:
        console.print(
            f"already complete: {report.out} holds the {report.n_targets} spectra of this "
            "space, seed and simulator; nothing to do"
        )
        return
    plural = "" if report.workers == 1 else "s"
    rate = report.computed_chunks and (report.n_targets / max(report.wall_time_s, 1e-9))
    console.print(
        f"wrote {report.out}: {report.n_targets} spectra in {report.wall_time_s:.1f} s "
        f"with {report.workers} worker{plural} ({report.resumed_chunks} of {report.n_chunks} "
        f"chunks resumed from an earlier run); {report.n_nan_spectra} spectra contain NaN"
        + (f"; {rate:.2f} spectra/s" if report.resumed_chunks == 0 else "")
    )
    if report.n_warnings:
        err_console.print(
            f"warning: the simulator raised {report.n_warnings} distinct "
            "warnings (stored in the file's attrs)"
        )
    if not report.ok:
        n_failed = sum(f["targets"][1] - f["targets"][0] + 1 for f in report.failures)
        raise TsToolkitError(
            f"completed with failures: {n_failed} targets in {len(report.failures)} chunks "
            f"failed (first error: {report.failures[0]['error']}); details in "
            f"{report.out.name}.parts/failures.json - re-run the same command to retry them"
        )


@app.command("plot-spectra")
def plot_spectra_command(
    data: Annotated[Path, typer.Argument(help="Spectra NetCDF file.")],
    n: Annotated[int, typer.Option(help="Spectra to draw per target kind.")] = 6,
    out: Annotated[Path | None, typer.Option(help="PNG file (default: DATA with .png).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for choosing the spectra.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing PNG.")] = False,
) -> None:
    """Draw TS(f) of a few gas- and liquid-filled targets (the paper's Figure 1) to PNG."""
    from ..checks import check_count, check_seed
    from ..outputs import check_outputs
    from ..plotting import plot_spectra
    from ..spectra import read_spectra

    check_count(n, "--n")
    check_seed(seed)
    png = out or data.with_suffix(".png")
    check_outputs([png], [data], overwrite)
    ds = read_spectra(require_file(data))
    path = plot_spectra(ds, png, n=n, seed=seed)
    console.print(f"wrote {path}")
