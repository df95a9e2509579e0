"""``extract``, ``predict`` and ``sphere-check``: from EK80 files to classified targets.

Heavy modules (numpy, xarray, echopype through the ``ek80`` source) are imported inside
the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..cli import app, console, err_console, require_file
from ..errors import InputFileError, TsToolkitError

DEFAULT_MODEL = "default.tsm"

_DET = "Single-target detection"
_TSF = "TS(f)"


def _source_options(
    min_ts: float | None,
    pldl: float | None,
    min_echo_length: float | None,
    max_echo_length: float | None,
    max_beam_compensation: float | None,
    max_angle_std: float | None,
    min_range: float | None,
    max_range: float | None,
    bottom_sp: float | None,
    window: float | None,
    frequency_step_khz: float | None,
    channels: list[str] | None,
    single_beam: bool,
    merge: bool,
    use_swap: bool = False,
) -> dict[str, Any]:
    """Options for the ``ek80`` source from the CLI flags (only the ones given)."""
    options: dict[str, Any] = {
        "min_ts": min_ts,
        "pldl": pldl,
        "min_echo_length": min_echo_length,
        "max_echo_length": max_echo_length,
        "max_beam_compensation": max_beam_compensation,
        "max_angle_std": max_angle_std,
        "min_range": min_range,
        "max_range": max_range,
        "bottom_sp": bottom_sp,
        "window": window,
        "frequency_step": None if frequency_step_khz is None else frequency_step_khz * 1e3,
        "channels": channels or None,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if single_beam:
        options["single_beam"] = True
    if not merge:
        options["merge"] = False
    if use_swap:
        options["open_kwargs"] = {"use_swap": True}
    return options


def extract_spectra(raw: Path, options: dict[str, Any]) -> Any:
    """Open ``raw`` with the first source that can read it; return its spectra Dataset."""
    from ..plugins import source_for

    require_file(raw)
    spectra = source_for(raw).open(raw, **options)
    print_input_warnings(spectra)
    return spectra


def print_input_warnings(spectra: Any) -> None:
    """One ``warning: …`` line on stderr per warning the source recorded (a damaged file)."""
    from ..spectra import input_warnings

    for message in input_warnings(spectra):
        err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


MinTs = Annotated[
    float | None,
    typer.Option(
        "--min-ts",
        help="Minimum compensated TS at the centre frequency, dB (default -50).",
        rich_help_panel=_DET,
    ),
]
Pldl = Annotated[
    float | None,
    typer.Option(
        "--pldl",
        help="Pulse-length determination level, dB below the peak (default 6).",
        rich_help_panel=_DET,
    ),
]
MinEl = Annotated[
    float | None,
    typer.Option(
        "--min-echo-length",
        help="Minimum normalised echo length (default 0.7).",
        rich_help_panel=_DET,
    ),
]
MaxEl = Annotated[
    float | None,
    typer.Option(
        "--max-echo-length",
        help="Maximum normalised echo length (default 1.5).",
        rich_help_panel=_DET,
    ),
]
MaxBc = Annotated[
    float | None,
    typer.Option(
        "--max-beam-comp",
        help="Maximum two-way beam compensation, dB (default 6).",
        rich_help_panel=_DET,
    ),
]
MaxStd = Annotated[
    float | None,
    typer.Option(
        "--max-angle-std",
        help="Maximum std of the split-beam angles in an echo, deg (default 0.6).",
        rich_help_panel=_DET,
    ),
]
MinR = Annotated[
    float | None,
    typer.Option(
        "--min-range", help="Minimum range, m (default 1, at least c·τ/2).", rich_help_panel=_DET
    ),
]
MaxR = Annotated[
    float | None,
    typer.Option("--max-range", help="Maximum range, m (default none).", rich_help_panel=_DET),
]
BottomSp = Annotated[
    float | None,
    typer.Option(
        "--bottom-sp",
        help="Sp (dB) from which an echo counts as the seabed; targets closer "
        "than 0.5 m to it or beyond are dropped (default -15; 999 disables).",
        rich_help_panel=_DET,
    ),
]
Window = Annotated[
    float | None,
    typer.Option(
        "--window",
        help="Half-length of the TS(f) range window around a target, m (default 0.5).",
        rich_help_panel=_TSF,
    ),
]
Step = Annotated[
    float | None,
    typer.Option(
        "--frequency-step",
        help="Spacing of the output frequency grid, kHz (default 1).",
        rich_help_panel=_TSF,
    ),
]
Channels = Annotated[
    list[str] | None,
    typer.Option("--channel", help="Only this channel id (repeatable).", rich_help_panel=_TSF),
]
SingleBeam = Annotated[
    bool,
    typer.Option(
        "--single-beam",
        help="Also extract single-beam FM channels (no beam compensation).",
        rich_help_panel=_TSF,
    ),
]
UseSwap = Annotated[
    bool,
    typer.Option(
        "--use-swap", help="Let echopype keep samples on disk (large files).", rich_help_panel=_TSF
    ),
]
Merge = Annotated[
    bool,
    typer.Option(
        "--merge/--no-merge",
        help="Merge targets seen by several channels in the same ping at the same range.",
        rich_help_panel=_TSF,
    ),
]


@app.command("extract")
def extract_command(
    raw: Annotated[Path, typer.Argument(help="EK80 .raw file (FM, complex samples).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output spectra NetCDF (default: RAW's name with .spectra.nc)."
        ),
    ] = None,
    min_ts: MinTs = None,
    pldl: Pldl = None,
    min_echo_length: MinEl = None,
    max_echo_length: MaxEl = None,
    max_beam_comp: MaxBc = None,
    max_angle_std: MaxStd = None,
    min_range: MinR = None,
    max_range: MaxR = None,
    bottom_sp: BottomSp = None,
    window: Window = None,
    frequency_step: Step = None,
    channel: Channels = None,
    single_beam: SingleBeam = False,
    merge: Merge = True,
    use_swap: UseSwap = False,
) -> None:
    """Detect single targets in an EK80 file and write their TS(f) spectra (NetCDF)."""
    from ..spectra import write_spectra

    options = _source_options(
        min_ts,
        pldl,
        min_echo_length,
        max_echo_length,
        max_beam_comp,
        max_angle_std,
        min_range,
        max_range,
        bottom_sp,
        window,
        frequency_step,
        channel,
        single_beam,
        merge,
        use_swap,
    )
    with console.status(f"extracting single targets from {raw.name}"):
        spectra = extract_spectra(raw, options)
    out = out or raw.with_name(raw.stem + ".spectra.nc")
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


def default_model_path() -> Path | None:
    """The bundled default model ``ts_toolkit/data/default.tsm`` if it exists."""
    from importlib import resources

    try:
        candidate = resources.files("ts_toolkit").joinpath("data", DEFAULT_MODEL)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


def prediction_rows(result: Any) -> list[dict[str, Any]]:
    """One dict per target: ping time, channel, range and the predictions."""
    import numpy as np

    rows = []
    n = int(result.sizes["target"])
    for i in range(n):
        row: dict[str, Any] = {}
        for name in (
            "ping_time",
            "channel",
            "range",
            "angle_alongship",
            "angle_athwartship",
            "TS_centre",
        ):
            if name in result:
                v = result[name].values[i]
                if name == "ping_time":
                    row[name] = str(np.datetime_as_string(v, unit="ms")).replace("T", " ")
                else:
                    row[name] = v.item() if hasattr(v, "item") else v
        for name in ("kind", "probability", "a", "b", "alpha", "Req", "theta"):
            key = f"pred_{name}"
            if key in result:
                v = result[key].values[i]
                row[name] = v.item() if hasattr(v, "item") else v
        rows.append(row)
    return rows


def _print_table(rows: list[dict[str, Any]], title: str, limit: int = 50) -> None:
    from rich.table import Table

    table = Table(title=title)
    dates = sorted({str(r.get("ping_time", ""))[:10] for r in rows} - {""})
    if dates:
        table.title = f"{title} ({', '.join(dates)} UTC)"
    for col in ("ping time", "range m", "kind", "p", "a mm", "b mm", "alpha", "Req mm", "theta°"):
        table.add_column(
            col, justify="right" if col != "kind" else "left", no_wrap=col == "ping time"
        )

    def num(v: Any, scale: float = 1.0, fmt: str = ".1f") -> str:
        try:
            return format(float(v) * scale, fmt)
        except (TypeError, ValueError):
            return "-"

    for row in rows[:limit]:
        table.add_row(
            str(row.get("ping_time", ""))[11:],
            num(row.get("range"), fmt=".2f"),
            str(row.get("kind", "")),
            num(row.get("probability"), fmt=".2f"),
            num(row.get("a"), 1e3),
            num(row.get("b"), 1e3),
            num(row.get("alpha"), fmt=".2f"),
            num(row.get("Req"), 1e3),
            num(row.get("theta"), fmt=".0f"),
        )
    console.print(table)
    if len(rows) > limit:
        console.print(f"... {len(rows) - limit} more rows in the output file")


def write_predictions(result: Any, rows: list[dict[str, Any]], out: Path) -> Path:
    """Write predictions: ``.nc`` (spectra on the model grid + ``pred_*``) or ``.csv``."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        import csv

        out.parent.mkdir(parents=True, exist_ok=True)
        columns = (
            sorted({k for r in rows for k in r}, key=list(rows[0]).index)
            if rows
            else [
                "ping_time",
                "channel",
                "range",
                "kind",
                "probability",
                "a",
                "b",
                "alpha",
                "Req",
                "theta",
            ]
        )
        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return out
    if suffix == ".nc":
        from ..spectra import write_spectra

        return write_spectra(result, out)
    raise InputFileError(f"--out {out}: unknown format {suffix!r}; use .nc or .csv")


@app.command("predict")
def predict_command(
    raw: Annotated[Path, typer.Argument(help="EK80 .raw file (FM, complex samples).")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", "-m", help="Trained model file (.tsm); default: the bundled model."
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
            help="Accept a model whose grid the file's bands only partly "
            "cover (unmeasured model frequencies are NaN).",
        ),
    ] = False,
    min_ts: MinTs = None,
    pldl: Pldl = None,
    min_echo_length: MinEl = None,
    max_echo_length: MaxEl = None,
    max_beam_comp: MaxBc = None,
    max_angle_std: MaxStd = None,
    min_range: MinR = None,
    max_range: MaxR = None,
    bottom_sp: BottomSp = None,
    window: Window = None,
    frequency_step: Step = None,
    channel: Channels = None,
    single_beam: SingleBeam = False,
    merge: Merge = True,
    use_swap: UseSwap = False,
) -> None:
    """Classify the single targets of an EK80 file with a trained model.

    Detects single targets, computes their TS(f), and prints and writes the table (ping time,
    range, kind + probability, a, b, alpha, Req, theta)."""
    from ..apply import predict_spectra
    from ..modelfile import load_model

    require_file(raw)
    if model is None:
        model = default_model_path()
        if model is None:
            raise TsToolkitError(
                "no model is bundled with this ts-toolkit yet (ts_toolkit/data/default.tsm); "
                "train one with 'ts-toolkit train' and pass it with --model"
            )
    else:
        require_file(model)
    options = _source_options(
        min_ts,
        pldl,
        min_echo_length,
        max_echo_length,
        max_beam_comp,
        max_angle_std,
        min_range,
        max_range,
        bottom_sp,
        window,
        frequency_step,
        channel,
        single_beam,
        merge,
        use_swap,
    )
    loaded = load_model(model)
    with console.status(f"extracting single targets from {raw.name}"):
        spectra = extract_spectra(raw, options)
    n = int(spectra.sizes["target"])
    if n == 0:
        console.print(
            f"{raw.name}: no single targets detected (detection counts: "
            f"{spectra.attrs.get('detection_counts', '')})"
        )
        result, rows = spectra, []
    else:
        result = predict_spectra(loaded, spectra, allow_partial=band_subset)
        rows = prediction_rows(result)
        _print_table(rows, f"{raw.name}: {n} single target{'s' if n != 1 else ''}")
    if out is not None:
        write_predictions(result, rows, out)
        console.print(f"wrote {out}")


@app.command("sphere-check")
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
        typer.Option("--material", help="Sphere material: wc (tungsten carbide) or cu (copper)."),
    ] = "wc",
    range_min: Annotated[float, typer.Option("--range-min", help="Search from, m.")] = 0.0,
    range_max: Annotated[float, typer.Option("--range-max", help="Search to, m.")] = 1e9,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Figure path (default: PATH's name with .sphere.png)."),
    ] = None,
    step_khz: Annotated[float, typer.Option("--table-step", help="Table row spacing, kHz.")] = 5.0,
) -> None:
    """Measured vs theoretical TS(f) of a calibration sphere: a table and a PNG."""
    from rich.table import Table

    from ts_toolkit_plugins.ek80.spherecheck import plot_sphere_check, sphere_check

    require_file(path)
    with console.status(f"measuring the sphere in {path.name}"):
        check = sphere_check(path, diameter * 1e-3, material, range_min, range_max)
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
    out = plot_sphere_check(check, png or path.with_name(path.stem + ".sphere.png"))
    console.print(f"figure -> {out}")
