"""The ek80 plugin's own commands: ``synth-raw``, ``synth-sphere``, ``sphere-check``,
``calibrate`` and ``ek80-json-to-raw``.

Added to the ``ts-toolkit`` command line through the ``register_commands(cli)`` hook.
Only typer is imported here; each command imports what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ts_toolkit.errors import InputFileError


def register(cli: typer.Typer) -> None:
    """Add ``synth-raw``, ``synth-sphere``, ``sphere-check``, ``calibrate`` and
    ``ek80-json-to-raw`` to the command line ``cli``."""
    from ts_toolkit.cli.app import console, require_file

    @cli.command("synth-raw")
    def synth_raw_command(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output EK80 .raw file.")],
        targets: Annotated[
            int, typer.Option(help="Number of targets (Table I, gas and liquid).")
        ] = 10,
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
            typer.Option(
                help="Receiver noise power (dB re 1 W) of the raw sector-averaged samples."
            ),
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
            Path | None,
            typer.Option(help="Parameter-space TOML file (default: the paper's Table I)."),
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
                "see plugins/ek80/synth/seabed.py); it must lie beyond --max-range.",
            ),
        ] = None,
        truth: Annotated[
            Path | None,
            typer.Option(
                help="Ground-truth NetCDF (default: OUT with .truth.nc; a .csv beside it)."
            ),
        ] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace existing output files.")
        ] = False,
    ) -> None:
        """Write a synthetic EK80 FM survey (.raw) and its ground truth (.nc + .csv)."""
        from rich.progress import Progress

        from ts_toolkit.checks import check_count, check_seed
        from ts_toolkit.outputs import check_outputs
        from ts_toolkit.parameters import load_space

        from .synth import Seabed, make_survey, write_raw, write_truth

        check_count(targets, "--targets")
        check_count(pings, "--pings")
        check_seed(seed)
        truth_nc = truth or out.with_name(out.stem + ".truth.nc")
        truth_csv = truth_nc.with_suffix(".csv")
        if len({p.resolve() for p in (out, truth_nc, truth_csv)}) < 3:
            raise InputFileError(
                f"--out {out} and the truth files ({truth_nc}, {truth_csv}) collide"
            )
        check_outputs([out, truth_nc, truth_csv], [space], overwrite)
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

    @cli.command("synth-sphere")
    def synth_sphere_command(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output EK80 .raw file.")],
        diameter: Annotated[float, typer.Option("--diameter", help="Sphere diameter, mm.")] = 38.1,
        material: Annotated[
            str, typer.Option("--material", help="Sphere material: wc or cu.")
        ] = "wc",
        channels: Annotated[
            str, typer.Option(help="Comma-separated transducers by nominal kHz (38, 70, 120, 200).")
        ] = "70",
        grid: Annotated[int, typer.Option(help="GRID x GRID sphere positions, one per ping.")] = 7,
        max_angle: Annotated[
            float | None,
            typer.Option(
                help="Largest off-axis angle of the grid, deg (default: 0.4 of the narrowest "
                "beam width in the bands)."
            ),
        ] = None,
        sphere_range: Annotated[float, typer.Option("--range", help="Sphere range, m.")] = 10.0,
        gain_error: Annotated[
            float, typer.Option(help="Added to the gain the file carries, dB (truth: 0).")
        ] = 0.0,
        beamwidth_factor: Annotated[
            float, typer.Option(help="The file's beam widths are the true ones times this.")
        ] = 1.0,
        noise_db: Annotated[float, typer.Option(help="Receiver noise power (dB re 1 W).")] = -150.0,
        seed: Annotated[int, typer.Option(help="Random seed (range jitter, noise).")] = 1,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing output file.")
        ] = False,
    ) -> None:
        """Write a synthetic sphere calibration (.raw): a calibration sphere moved through
        the beam on a grid, optionally with a wrong calibration in the file (to test
        `calibrate` against ground truth; docs/calibration.md)."""
        from ts_toolkit.checks import check_count, check_seed
        from ts_toolkit.outputs import check_outputs

        from .synth import write_raw
        from .synth.spheregrid import make_sphere_survey

        check_count(grid, "--grid")
        check_seed(seed)
        check_outputs([out], [], overwrite)
        survey = make_sphere_survey(
            diameter * 1e-3,
            material,
            channels,
            grid,
            max_angle,
            sphere_range,
            gain_error=gain_error,
            beamwidth_factor=beamwidth_factor,
            noise_db=noise_db,
            seed=seed,
        )
        write_raw(survey, out)
        console.print(
            f"wrote {out}: {survey.n_pings} pings, {survey.notes['sphere']} sphere at "
            f"{sphere_range:g} m, grid {survey.notes['grid']}; the file's gain is "
            f"{gain_error:+g} dB and its beam widths x{beamwidth_factor:g} off the truth",
            markup=False,
            highlight=False,
        )

    @cli.command("sphere-check")
    def sphere_check_command(
        path: Annotated[
            Path,
            typer.Argument(
                help="EK80 .raw file or CRIMAC-layout .json ping with a calibration sphere."
            ),
        ],
        diameter: Annotated[float, typer.Option("--diameter", help="Sphere diameter, mm.")] = 38.1,
        material: Annotated[
            str,
            typer.Option(
                "--material", help="Sphere material: wc (tungsten carbide) or cu (copper)."
            ),
        ] = "wc",
        range_min: Annotated[
            float | None,
            typer.Option(
                "--range-min", help="Search from, m (default: find the sphere by its TS(f))."
            ),
        ] = None,
        range_max: Annotated[
            float | None,
            typer.Option(
                "--range-max", help="Search to, m (default: find the sphere by its TS(f))."
            ),
        ] = None,
        tolerance: Annotated[
            float,
            typer.Option(
                "--tolerance",
                help="Without a range window: the largest median |measured - theory| (dB) of "
                "an echo taken for the sphere; none within it is an error.",
            ),
        ] = 2.0,
        png: Annotated[
            Path | None,
            typer.Option("--png", help="Figure path (default: PATH's name with .sphere.png)."),
        ] = None,
        step_khz: Annotated[
            float, typer.Option("--table-step", help="Table row spacing, kHz.")
        ] = 5.0,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing figure.")
        ] = False,
    ) -> None:
        """Measured vs theoretical TS(f) of a calibration sphere: a table and a PNG."""
        from rich.table import Table

        from ts_toolkit.outputs import check_outputs

        from .spherecheck import plot_sphere_check, sphere_check

        require_file(path)
        png = png or path.with_name(path.stem + ".sphere.png")
        check_outputs([png], [path], overwrite, "--png")
        with console.status(f"measuring the sphere in {path.name}"):
            check = sphere_check(path, diameter * 1e-3, material, range_min, range_max, tolerance)
        console.print(f"sphere: {check.selection}")
        table = Table(title=check.label)
        for col in ("frequency (kHz)", "measured (dB)", "theory (dB)", "difference (dB)"):
            table.add_column(col, justify="right")
        f = check.frequency
        step = max(step_khz * 1e3, float(f[1] - f[0]) if f.size > 1 else 1.0)
        rows = [0] + [i for i in range(1, f.size) if (f[i] - f[0]) % step < 1e-6] + [f.size - 1]
        for i in sorted(set(rows)):
            table.add_row(
                f"{f[i] / 1e3:g}",
                f"{check.mean[i]:.2f}",
                f"{check.theory[i]:.2f}",
                f"{check.difference[i]:+.2f}",
            )
        console.print(table)
        st = check.stats()
        ranges = ", ".join(f"{d['range']:.2f}" for d in check.detections[:10])
        console.print(
            f"{len(check.detections)} echo(es) at {ranges} m; median |difference| "
            f"{st['median_abs']:.2f} dB, mean {st['mean']:+.2f} dB, rms {st['rms']:.2f} dB,"
            f" {100 * st['within_1dB']:.0f}% of frequencies within 1 dB"
        )
        out = plot_sphere_check(check, png)
        console.print(f"figure -> {out}")

    @cli.command("calibrate")
    def calibrate_command(
        paths: Annotated[
            list[Path],
            typer.Argument(help="EK80 .raw files or CRIMAC-layout .json pings with the sphere."),
        ],
        diameter: Annotated[float, typer.Option("--diameter", help="Sphere diameter, mm.")],
        material: Annotated[
            str,
            typer.Option(
                "--material", help="Sphere material: wc (tungsten carbide) or cu (copper)."
            ),
        ] = "wc",
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                help="Calibration XML to write (EK80 FrequencyPar layout; default: the first "
                "file's name with .cal.xml).",
            ),
        ] = None,
        png: Annotated[
            Path | None,
            typer.Option("--png", help="Report plots (default: OUT with .png)."),
        ] = None,
        report: Annotated[
            Path | None,
            typer.Option("--report", help="Markdown report (default: OUT with .md)."),
        ] = None,
        range_min: Annotated[
            float | None,
            typer.Option(
                "--range-min",
                help="Take the strongest echo from this range, m (default: "
                "find the sphere by its TS(f)).",
            ),
        ] = None,
        range_max: Annotated[
            float | None,
            typer.Option("--range-max", help="... to this range, m."),
        ] = None,
        tolerance: Annotated[
            float,
            typer.Option(
                "--tolerance",
                help="Without a range window: the largest median |TS - theory - offset| (dB) "
                "of an echo taken for the sphere.",
            ),
        ] = 0.5,
        max_gain_error: Annotated[
            float,
            typer.Option(
                "--max-gain-error",
                help="Without a range window: the largest gain error (dB) looked for (the "
                "sphere's TS may be off by twice this).",
            ),
        ] = 3.0,
        min_beam_detections: Annotated[
            int,
            typer.Option(
                "--min-beam-detections",
                help="Fit beam widths and offsets from this many sphere detections on (they "
                "must also span +-0.2 beam widths in both planes); fewer: gain only.",
            ),
        ] = 10,
        null_depth: Annotated[
            float,
            typer.Option(
                "--null-depth",
                help="Frequencies where the sphere's theory dips more than this (dB) below "
                "its 10 kHz running median (or is steeper than 2 dB/kHz) are interpolated, "
                "not measured; 0: none.",
            ),
        ] = 3.0,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace existing output files.")
        ] = False,
    ) -> None:
        """Sphere calibration: on-axis gain(f) and, where the sphere was moved through the
        beam, beam widths and offsets per frequency; writes an EK80 calibration XML (apply
        it with --calibration), a PNG and a Markdown report (docs/calibration.md)."""
        from ts_toolkit.checks import check_count
        from ts_toolkit.outputs import check_outputs, write_text_atomic

        from .calfile import calibration_xml
        from .spherecal import (
            calibration_entries,
            plot_calibration,
            report_markdown,
            sphere_calibration,
        )

        for p in paths:
            require_file(p)
        check_count(min_beam_detections, "--min-beam-detections", 5)
        out = out or paths[0].with_name(paths[0].stem + ".cal.xml")
        if out.suffix.lower() != ".xml":
            raise InputFileError(f"--out {out}: the calibration file is XML; name it .xml")
        png = png or out.with_suffix(".png")
        report = report or out.with_suffix(".md")
        if len({q.resolve() for q in (out, png, report)}) < 3:
            raise InputFileError(f"--out {out}, --png {png} and --report {report} collide")
        check_outputs([out, png, report], list(paths), overwrite)
        with console.status("measuring the sphere"):
            results = sphere_calibration(
                list(paths),
                diameter * 1e-3,
                material,
                range_min,
                range_max,
                tolerance,
                max_gain_error,
                min_beam_detections=min_beam_detections,
                null_depth=null_depth,
            )
        sphere = f"{diameter:g} mm {material.upper()} sphere"
        files = ", ".join(p.name for p in paths)
        title = f"{sphere} calibration from {files}"
        header = {"Sphere": sphere, "InputFiles": files}
        write_text_atomic(out, calibration_xml(calibration_entries(results), header))
        plot_calibration(results, png, title)
        write_text_atomic(report, report_markdown(results, title, png))
        for r in results:
            s = r.summary()
            corrections = ", ".join(f"{c:+.2f}" for c in r.ping_corrections()[:12])
            more = " ..." if len(r.detections) > 12 else ""
            console.print(
                f"{r.channel}: {s['detections']} sphere echo(es) ({r.selection}); gain "
                f"correction median {s['gain_correction_median_db']:+.3f} dB over "
                f"{s['band_khz'][0]:g}-{s['band_khz'][1]:g} kHz, scatter "
                f"{s['gain_scatter_median_db']:.3f} dB",
                markup=False,
                highlight=False,
            )
            console.print(
                f"  gain correction per ping (dB): {corrections}{more}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            console.print(f"  beam: {r.beam_note}", markup=False, highlight=False, soft_wrap=True)
            if s["excluded_khz"]:
                near = ", ".join(f"{x:g}" for x in s["excluded_khz"])
                console.print(
                    f"  near the sphere's nulls, interpolated: {near} kHz",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        console.print(f"wrote {out}, {png}, {report}")

    @cli.command("ek80-json-to-raw")
    def json_to_raw_command(
        paths: Annotated[
            list[Path],
            typer.Argument(help="CRIMAC-layout JSON ping(s) (one EK80 FM ping each)."),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output EK80 .raw file.")],
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing output file.")
        ] = False,
    ) -> None:
        """Write real EK80 pings stored as CRIMAC JSON into one EK80 .raw file: the same
        complex samples, filter stages, transceiver and transducer parameters, calibration
        table, environment and ping parameters (see docs/ek80.md)."""
        import json

        from ts_toolkit.outputs import check_outputs

        from .crimac import crimac_ping, crimac_record
        from .synth.recorded import channel_ids, write_recorded_raw

        for p in paths:
            require_file(p)
        check_outputs([out], paths, overwrite)
        pings, records = [], []
        for p in paths:
            try:
                d = json.loads(p.read_text())
                pings.append(crimac_ping(d))
                records.append(crimac_record(d))
            except (KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
                raise InputFileError(
                    f"{p} is not a CRIMAC-layout EK80 ping: {type(exc).__name__}: {exc}"
                ) from exc
        write_recorded_raw(pings, out, records)
        ids = channel_ids(pings)
        for p, ping, cid in zip(paths, pings, ids):
            console.print(
                f"{p.name}: {ping.n_sectors} sectors x {ping.samples.shape[1]} samples, "
                f"{ping.f_start / 1e3:g}-{ping.f_stop / 1e3:g} kHz, "
                f"{ping.duration * 1e3:.3f} ms, {ping.calibration.source} -> channel {cid}"
            )
        console.print(
            f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB): {len(pings)} ping(s), "
            f"{len(set(ids))} channel(s)"
        )
