"""``train`` and ``evaluate``: fit learner plugins on simulated spectra and compare them.

Heavy modules (numpy, xarray, the learning libraries) are imported inside the commands.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import InputFileError, Interrupted, TsToolkitError
from .app import app, console, err_console, require_file


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """``["k=7", "gamma=scale"]`` → ``{"k": 7, "gamma": "scale"}`` (values as JSON when
    they parse, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise TsToolkitError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _metrics_table(title: str, columns: list[str], metric_sets: list[dict[str, float]]) -> Any:
    from rich.table import Table

    from ..learn.metrics import METRIC_LABELS
    from ..learn.reports import format_metric

    table = Table(title=title)
    table.add_column("metric")
    for c in columns:
        table.add_column(c, justify="right")
    for key, label in METRIC_LABELS.items():
        table.add_row(label, *(format_metric(key, m[key]) for m in metric_sets))
    return table


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(help="Labelled spectra NetCDF file (from `simulate`).")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Learner plugin: cnn, knn, svm, rf, ...")
    ] = "cnn",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Model file to write [MODEL.tsm].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and of the learner.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (cnn).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (cnn).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda (cnn).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (cnn).")] = None,
    n_jobs: Annotated[int | None, typer.Option(help="Parallel jobs (knn, svm, rf).")] = None,
    noise_db: Annotated[
        float | None,
        typer.Option(help="Training-time Gaussian TS noise, dB (cnn; off by default)."),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any other learner option, KEY=VALUE (repeatable)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model file.")] = False,
) -> None:
    """Train a learner and save it with its split and normalisation.

    Trains on the 80 % training split (seeded, stratified by kind) and selects on the 10 %
    validation split."""
    from ..checks import check_count, check_nonnegative, check_seed
    from ..outputs import check_outputs

    check_seed(seed)
    check_count(epochs, "--epochs")
    check_count(batch_size, "--batch-size")
    check_count(threads, "--threads")
    check_nonnegative(noise_db, "--noise-db")
    out_path = out or Path(f"{model}.tsm")
    check_outputs([out_path], [data], overwrite)
    require_file(data)
    import numpy as np

    from ..learn.data import ts_array
    from ..learn.evaluation import evaluate_model
    from ..learn.training import train_model
    from ..spectra import read_spectra

    options = parse_settings(setting)
    given = {
        "epochs": epochs,
        "batch_size": batch_size,
        "device": device,
        "threads": threads,
        "n_jobs": n_jobs,
        "noise_db": noise_db,
    }
    options.update({k: v for k, v in given.items() if v is not None})
    ds = read_spectra(data)
    ts_array(ds, str(data))
    console.print(
        f"training [bold]{model}[/bold] on {data} ({ds.sizes['target']} targets, "
        f"{ds.sizes['frequency']} frequencies), seed {seed}"
    )
    from ..learn.training import accepted_options
    from ..plugins import get_classifier_class

    # learners with their own progress bar show it; the others get a spinner
    own_bar = "progress" in accepted_options(get_classifier_class(model))
    with nullcontext() if own_bar else console.status(f"training {model}"):
        learner = train_model(ds, model, seed=seed, **options)
    learner.save(out_path)
    console.print(f"wrote {out_path}")
    if "stopped" in learner.training:  # learners with epochs say why they stopped
        console.print(
            f"stopped: {learner.training['stopped']}; kept epoch "
            f"{learner.training.get('best_epoch')} of {learner.training.get('epochs_run')}"
        )
        if str(learner.training["stopped"]).startswith("interrupted"):  # exit 130, work kept
            raise Interrupted(
                f"{learner.training['stopped']}; the best finished epoch "
                f"({learner.training.get('best_epoch')}) is saved in {out_path}"
            )
    split = learner.split
    assert split is not None
    shown = split.validation
    limit = getattr(learner, "validation_report_targets", None)
    if limit is not None and shown.size > limit:  # slow learners: a seeded subsample
        shown = np.sort(np.random.default_rng(0).choice(shown, limit, replace=False))
    val = evaluate_model(learner, ds, indices=shown)
    for warning in val.warnings:
        err_console.print(f"warning: validation split: {warning}", markup=False, highlight=False)
    console.print(
        _metrics_table(
            f"{model}: validation split ({shown.size} of {split.validation.size} targets)",
            [model],
            [val.metrics],
        )
    )
    console.print(
        f"split train/validation/test = {split.train.size}/{split.validation.size}/"
        f"{split.test.size}; fit {learner.training['fit_seconds']:.1f} s"
    )


def _labels(paths: list[Path]) -> list[str]:
    labels: list[str] = []
    for p in paths:
        label = p.stem
        n = 2
        while label in labels:
            label = f"{p.stem}-{n}"
            n += 1
        labels.append(label)
    return labels


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Argument(help="Labelled spectra NetCDF file.")],
    models: Annotated[
        list[Path],
        typer.Option(
            "--model",
            "-m",
            help="Model file, or a bundled model's name (default, inversion); repeat to compare.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option(help="Where tables and figures go.")] = Path(
        "evaluation"
    ),
    outliers: Annotated[
        int, typer.Option(help="List the N worst-predicted test targets per model (0: none).")
    ] = 0,
    all_targets: Annotated[
        bool, typer.Option("--all", help="Score every target, not the models' saved test split.")
    ] = False,
    noise_db: Annotated[
        float, typer.Option(help="Add Gaussian noise of this many dB to every TS value first.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the added noise.")] = 0,
    band_sets: Annotated[
        str | None,
        typer.Option(
            "--band-sets",
            help="Also score each model with the test spectra masked to each of these band "
            "sets (kHz, e.g. '10-260;45-90+90-170+160-260;34-45'): R², accuracy, interval "
            "coverage and OOD rate, in band-sets.md.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace tables and figures already in the output folder.")
    ] = False,
) -> None:
    """Compare trained models on the held-out test split.

    Prints the table (R², accuracy, composite, RMSE), writes it as Markdown and CSV, and draws
    true-vs-predicted plots. An R² that is undefined (fewer than 2 test targets, or true
    values that do not vary) is shown as n/a, with a warning. With --band-sets, also the
    per-band-set table of each model (calibrated models: interval coverage and OOD rate)."""
    from ..checks import check_count, check_nonnegative, check_seed
    from ..outputs import check_outputs

    check_seed(seed)
    check_count(outliers, "--outliers", minimum=0)
    check_nonnegative(noise_db, "--noise-db")
    md_path = out_dir / "comparison.md"
    csv_path = out_dir / "comparison.csv"
    png_path = out_dir / "true_vs_predicted.png"
    outliers_path = out_dir / "outliers.md" if outliers > 0 else None
    bands_path = out_dir / "band-sets.md" if band_sets else None
    if band_sets:
        from ..learn.bands import parse_band_sets

        parse_band_sets(band_sets)  # a malformed set fails before any work
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(f"--out-dir {out_dir} is a file, not a folder")
    from ..modelfile import resolve_model

    models = [resolve_model(m) for m in models]  # files, or bundled names (inversion)
    check_outputs(
        [md_path, csv_path, png_path, outliers_path, bands_path],
        [data, *models],
        overwrite,
        "--out-dir",
    )
    require_file(data)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(
            f"cannot create output folder {out_dir}: {exc.strerror or exc}"
        ) from exc
    import numpy as np

    from ..learn.data import ts_array
    from ..learn.evaluation import evaluate_model
    from ..learn.reports import (
        comparison_csv,
        comparison_markdown,
        outlier_report,
        plot_true_vs_predicted,
    )
    from ..modelfile import load_model
    from ..outputs import write_text_atomic
    from ..spectra import read_spectra

    ds = read_spectra(data)
    ts_array(ds, str(data))
    labels = _labels(models)
    results = []
    fit_seconds = []
    band_tables: list[str] = []
    for path, label in zip(models, labels, strict=True):
        with console.status(f"evaluating {path.name}"):
            learner = load_model(path)
            if band_sets:
                from ..learn.bandeval import band_set_markdown, evaluate_band_sets

                rows, note = evaluate_band_sets(
                    learner, ds, band_sets, use_split=not all_targets, noise_db=noise_db, seed=seed
                )
                band_tables.append(band_set_markdown(rows, f"{label}: per band set", note))
            results.append(
                evaluate_model(
                    learner,
                    ds,
                    label=label,
                    use_split=not all_targets,
                    noise_db=noise_db,
                    seed=seed,
                )
            )
        fit_seconds.append(learner.training.get("fit_seconds"))
    same = all(np.array_equal(r.indices, results[0].indices) for r in results)
    console.print(
        _metrics_table(f"{data.name}: {results[0].note}", labels, [r.metrics for r in results])
    )
    for r in results:
        for warning in r.warnings:
            err_console.print(f"warning: {r.label}: {warning}", markup=False, highlight=False)
    if not same:
        console.print(
            "[yellow]warning: the models were scored on different test splits "
            "(trained with different seeds or data); the comparison is not "
            "like for like[/yellow]"
        )
    extra = {
        "training time (s)": [
            f"{s:.1f}" if isinstance(s, (int, float)) else "?" for s in fit_seconds
        ],
        "model": [r.model for r in results],
    }
    header = [f"# Model comparison on {data.name}", ""]
    header += [f"- {r.label} ({r.model}): {r.note}" for r in results]
    if not same:
        header.append("- warning: the models were scored on different test splits")
    write_text_atomic(md_path, "\n".join(header) + "\n\n" + comparison_markdown(results, extra))
    write_text_atomic(csv_path, comparison_csv(results))
    plot_true_vs_predicted(results, png_path)
    written = [md_path, csv_path, png_path]
    if outliers_path is not None:
        report = "\n".join(outlier_report(r, outliers) for r in results)
        write_text_atomic(outliers_path, f"# Worst-predicted targets on {data.name}\n\n{report}")
        written.append(outliers_path)
        console.print(report, markup=False, highlight=False)
    if bands_path is not None:
        text = f"## Per band set on {data.name}\n\n" + "\n".join(band_tables)
        write_text_atomic(bands_path, text)
        written.append(bands_path)
        console.print(text, markup=False, highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command("calibrate-model")
def calibrate_command(
    model: Annotated[Path, typer.Argument(help="Trained model file (.tsm).")],
    data: Annotated[
        Path, typer.Argument(help="The labelled spectra the model was trained on (.nc).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Calibrated model file to write.")],
    band_sets: Annotated[
        str,
        typer.Option(
            "--band-sets",
            help="Band sets to calibrate on (kHz; bands LO-HI joined by '+', sets by ';').",
        ),
    ],
    level: Annotated[float, typer.Option(help="Interval level (0-1).")] = 0.9,
    noise_db: Annotated[
        float,
        typer.Option(
            help="Gaussian TS noise (dB) on the validation spectra that set the OOD threshold."
        ),
    ] = 1.0,
    ood_quantile: Annotated[
        float,
        typer.Option(help="Quantile of the validation OOD scores used as each threshold."),
    ] = 0.995,
    n_reference: Annotated[
        int, typer.Option(help="Training spectra stored as the OOD reference.")
    ] = 6000,
    r2_floor: Annotated[
        float,
        typer.Option(help="Minimum coverage: from where every band set has validation R² ≥ this."),
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of the reference subset and the noise.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model file.")] = False,
) -> None:
    """Calibrate a trained model on its validation split: coverage minimum, 90 % intervals
    (split conformal) and class-probability temperatures per band set, and the
    out-of-distribution reference and threshold (docs/trust.md)."""
    from ..checks import check_count, check_nonnegative, check_seed
    from ..outputs import check_outputs

    check_seed(seed)
    check_count(n_reference, "--n-reference")
    check_nonnegative(noise_db, "--noise-db")
    from ..learn.bands import parse_band_sets

    parse_band_sets(band_sets)
    require_file(model)
    require_file(data)
    check_outputs([out], [data, model], overwrite)
    from ..learn.trust import calibrate
    from ..modelfile import load_model
    from ..spectra import read_spectra

    learner = load_model(model)
    ds = read_spectra(data)
    with console.status("calibrating"):
        trust = calibrate(
            learner,
            ds,
            band_sets,
            level=level,
            noise_db=noise_db,
            ood_quantile=ood_quantile,
            n_reference=n_reference,
            r2_floor=r2_floor,
            seed=seed,
        )
    learner.save(out)
    from rich.table import Table

    table = Table(title=f"validation split ({trust.info['n_validation']} targets), per band set")
    cols = ("band set kHz", "coverage", "acc", "R² θ", "R² a", "R² b", "T", "OOD dB", "rough dB")
    for col in (*cols, "emb"):
        table.add_column(
            col, justify="left" if col == "band set kHz" else "right", no_wrap=col == "band set kHz"
        )
    for r in trust.info["per_band_set"]:
        table.add_row(
            r["band_set_khz"],
            f"{r['coverage']:.3f}",
            f"{r['accuracy']:.3f}",
            f"{r['r2_theta']:.3f}",
            f"{r['r2_a']:.3f}",
            f"{r['r2_b']:.3f}",
            f"{r['temperature']:.2f}",
            f"{r['ood_threshold_db']:.2f}",
            f"{r['ood_roughness_threshold_db']:.2f}",
            "-" if r["ood_embedding_threshold"] is None else f"{r['ood_embedding_threshold']:.1f}",
        )
    console.print(table)
    console.print(
        f"minimum coverage {trust.min_coverage:.3f} (every band set from there on has "
        f"validation R² θ, a, b ≥ {r2_floor:g}); wrote {out}"
    )
