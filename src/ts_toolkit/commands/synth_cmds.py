"""``synth-raw``: a synthetic EK80 ``.raw`` survey with targets of known TS(f)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli import app, console
from ..errors import InputFileError


@app.command("synth-raw")
def synth_raw_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output EK80 .raw file.")],
    targets: Annotated[int, typer.Option(help="Number of targets (Table I, gas and liquid).")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed (targets, geometry, noise).")] = 1,
    channels: Annotated[
        str,
        typer.Option(
            help="Comma-separated transducers by nominal kHz: 38 (ES38-7, 34-45 kHz), "
            "70 (ES70-7C, 45-90), 120 (ES120-7C, 90-170), 200 (ES200-7C, 160-260)."
        ),
    ] = "70,120,200",
    noise_db: Annotated[
        float,
        typer.Option(help="Receiver noise power (dB re 1 W) of the raw sector-averaged samples."),
    ] = -150.0,
    no_noise: Annotated[bool, typer.Option("--no-noise", help="Write noise-free samples.")] = (
        False
    ),
    pings: Annotated[
        int | None, typer.Option(help="Number of pings (default: one target per ping).")
    ] = None,
    simulator: Annotated[str, typer.Option(help="Simulator plugin for TS(f).")] = (
        "prolate-spheroid"
    ),
    space: Annotated[
        Path | None, typer.Option(help="Parameter-space TOML file (default: the paper's Table I).")
    ] = None,
    min_range: Annotated[float, typer.Option(help="Nearest target range (m).")] = 5.0,
    max_range: Annotated[float, typer.Option(help="Farthest target range (m).")] = 25.0,
    max_angle: Annotated[
        float, typer.Option(help="Targets lie within this angle (deg) of the beam axis.")
    ] = 2.0,
    seabed: Annotated[
        float | None,
        typer.Option(
            help="Add a flat rough seabed at this range (m; sb -20 dB, 2 cm roughness, "
            "see ts_toolkit.synth.seabed); it must lie beyond --max-range.",
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Ground-truth NetCDF (default: OUT with .truth.nc; a .csv beside it)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing output files.")
    ] = False,
) -> None:
    """Write a synthetic EK80 FM survey (.raw) and its ground truth (.nc + .csv)."""
    from rich.progress import Progress

    from ..parameters import load_space
    from ..synth import Seabed, make_survey, write_raw, write_truth

    truth_nc = truth or out.with_name(out.stem + ".truth.nc")
    truth_csv = truth_nc.with_suffix(".csv")
    if not overwrite:
        for p in (out, truth_nc, truth_csv):
            if p.exists():
                raise InputFileError(f"{p} exists; use --overwrite to replace it")
    ps = load_space(space) if space is not None else None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"simulating TS(f) with {simulator}", total=targets)
        survey = make_survey(
            targets,
            seed,
            channels=channels,
            n_pings=pings,
            simulator=simulator,
            space=ps,
            noise_db=None if no_noise else noise_db,
            min_range=min_range,
            max_range=max_range,
            max_angle=max_angle,
            progress=lambda k: progress.advance(task, k),
            seabed=None if seabed is None else Seabed(seabed),
        )
        task2 = progress.add_task("writing pings", total=survey.n_pings)
        write_raw(survey, out, progress=lambda k: progress.advance(task2, k))
    nc, csv_path = write_truth(survey, truth_nc, truth_csv, raw_file=out)
    chans = ", ".join(
        f"{c.model.name} {c.model.f_start / 1e3:g}-{c.model.f_stop / 1e3:g} kHz"
        for c in survey.settings.channels
    )
    kinds = [t.kind for t in survey.targets]
    console.print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {survey.n_pings} pings, "
        f"{len(kinds)} targets ({kinds.count('gas')} gas, {kinds.count('liquid')} liquid), "
        f"channels {chans}; noise "
        f"{'none' if no_noise else f'{noise_db:g} dB re 1 W'}; seed {seed}"
        + ("" if seabed is None else f"; seabed at {seabed:g} m")
    )
    console.print(f"ground truth: {nc} and {csv_path}")
