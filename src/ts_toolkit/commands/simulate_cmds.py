"""``simulate``, ``plot-spectra`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ..cli import app, console, err_console, require_file
from ..errors import Interrupted, TsToolkitError


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
    """Simulate a training dataset of TS(f) spectra (resumable: re-run the same command)."""
    from ..parameters import load_space, table1_space
    from ..simulate import simulate

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
) -> None:
    """Draw TS(f) of a few gas- and liquid-filled targets (the paper's Figure 1) to PNG."""
    from ..plotting import plot_spectra
    from ..spectra import read_spectra

    ds = read_spectra(require_file(data))
    path = plot_spectra(ds, out or data.with_suffix(".png"), n=n, seed=seed)
    console.print(f"wrote {path}")


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option(help="Folder for the demo's files.")] = Path("demo-out"),
    targets: Annotated[int, typer.Option(help="Targets in the synthetic survey.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    model: Annotated[
        Path | None, typer.Option(help="Trained model (default: the bundled CNN).")
    ] = None,
    simulator: Annotated[str, typer.Option(help="Simulator for the targets' TS(f).")] = (
        "prolate-spheroid"
    ),
) -> None:
    """The main job on built-in defaults: a synthetic survey, classified and checked.

    Writes a synthetic EK80 survey with known targets, runs `predict` on it with the bundled
    model and compares the result with the truth."""
    from rich import box
    from rich.progress import Progress
    from rich.table import Table

    from ..demo import DEMO_CHANNELS, run_demo

    console.rule(f"1. a synthetic EK80 survey: {targets} targets, channels {DEMO_CHANNELS} kHz")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"simulating TS(f) with {simulator}", total=targets)
        result = run_demo(
            out_dir, targets, seed, model, simulator, progress=lambda k: progress.advance(task, k)
        )
    console.print(f"wrote {result.raw} and its ground truth (demo-truth.nc/.csv)")
    console.rule("2. predict: single targets -> TS(f) -> model")
    console.print(f"{result.match.attrs['n_found']} single targets detected")
    console.rule("3. compared with the truth")
    table = Table(
        title="true/predicted (theta in degrees)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    for col in ("range m", "kind", "predicted (p)", "a mm", "b mm", "alpha", "theta"):
        table.add_column(
            col, justify="left" if "kind" in col or "pred" in col else "right", no_wrap=True
        )
    for r in result.table:
        if not r["detected"]:
            table.add_row(f"{r['range_m']:.2f}", r["kind_true"], "not detected", "", "", "", "")
            continue
        table.add_row(
            f"{r['range_m']:.2f}",
            r["kind_true"],
            f"{r['kind_pred']} ({r['probability']:.2f})",
            f"{1e3 * r['a_true']:.1f}/{1e3 * r['a_pred']:.1f}",
            f"{1e3 * r['b_true']:.2f}/{1e3 * r['b_pred']:.2f}",
            f"{r['alpha_true']:.2f}/{r['alpha_pred']:.2f}",
            f"{r['theta_true']:.0f}/{r['theta_pred']:.0f}",
        )
    console.print(table)
    det = [r for r in result.table if r["detected"]]

    def mae(name: str, scale: float = 1.0) -> float:
        return (
            float(np.median([abs(r[f"{name}_pred"] - r[f"{name}_true"]) * scale for r in det]))
            if det
            else float("nan")
        )

    n_false = int(result.match.attrs["n_unmatched_found"])
    console.print(
        f"detected {result.n_detected} of {len(result.table)} targets "
        f"({n_false} false detection{'' if n_false == 1 else 's'}); kind correct for "
        f"{100 * result.kind_accuracy:.0f}%; median absolute error: a {mae('a', 1e3):.1f} mm, "
        f"b {mae('b', 1e3):.2f} mm, alpha {mae('alpha'):.2f}, theta {mae('theta'):.0f} deg"
    )
