"""Train and compare the learners on one spectra file; write the results to docs/.

Usage (the Table II analogue on the 30,000-spectrum Table I data set)::

    python scripts/bench_learn.py spectra_30k.nc --out docs/results.md

Every learner is trained with the same seed, hence on the same 80/10/10 split, and scored
on the same held-out test split. Per-learner options go through ``--set NAME.KEY=VALUE``
(e.g. ``--set cnn.epochs=50 --set rf.n_estimators=500``). The CNN is also scored with
``--noise-db`` (1 dB by default) Gaussian noise added to every test TS value.

Writes: the Markdown report (``--out``), the same table as CSV next to it, the Figure 3
analogue (PNG next to it), the outlier analysis of every model, and the model files
(``--models-dir``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("knn", "svm", "rf", "cnn")


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["cnn.epochs=50"]`` → ``{"cnn": {"epochs": 50}}`` (values parsed as JSON if they can)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        model, dot, option = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"--set expects MODEL.KEY=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model, {})[option] = parsed
    return out


def machine() -> str:
    """One line describing where the benchmark ran."""
    text = f"{platform.machine()}, {os.cpu_count()} CPU threads, Python {platform.python_version()}"
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        text += f", torch {torch.__version__} ({gpu})"
    except ImportError:
        pass
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="labelled spectra NetCDF file")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="MODEL.KEY=VALUE"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument(
        "--noise-db",
        type=float,
        default=1.0,
        help="also score the CNN with this much Gaussian TS noise (0: skip)",
    )
    parser.add_argument("--outliers", type=int, default=10)
    args = parser.parse_args(argv)

    from ts_toolkit.learn import (
        comparison_csv,
        comparison_markdown,
        dataset_fingerprint,
        evaluate_model,
        grid_summary,
        outlier_report,
        plot_true_vs_predicted,
        train_model,
    )
    from ts_toolkit.spectra import read_spectra

    options = parse_sets(args.sets)
    ds = read_spectra(args.data)
    args.models_dir.mkdir(parents=True, exist_ok=True)
    results, times, noisy = [], [], {}
    for name in args.models:
        print(f"== {name}: training", flush=True)
        t0 = time.perf_counter()
        model = train_model(ds, name, seed=args.seed, **options.get(name, {}))
        times.append(time.perf_counter() - t0)
        model.save(args.models_dir / f"{name}.tsm")
        res = evaluate_model(model, ds, label=name)
        results.append(res)
        print(f"   {times[-1]:.1f} s; test composite {res.metrics['composite']:.4f}", flush=True)
        if name == "cnn" and args.noise_db > 0:
            noisy[name] = evaluate_model(
                model,
                ds,
                label=f"{name} + {args.noise_db:g} dB noise",
                noise_db=args.noise_db,
                seed=args.seed,
            )

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = plot_true_vs_predicted(results, out.with_suffix(".png"))
    out.with_suffix(".csv").write_text(comparison_csv(results + list(noisy.values())))
    n = ds.sizes["target"]
    kinds = {str(k): int((ds["kind"].values == k).sum()) for k in ("gas", "liquid")}
    lines = [
        "# Learner comparison (Table II analogue)",
        "",
        f"- data: `{args.data.name}` — {n} spectra ({kinds['gas']} gas, {kinds['liquid']} "
        f"liquid), {grid_summary(ds['frequency'].values)}, fingerprint "
        f"{dataset_fingerprint(ds)}, simulator: {ds.attrs.get('simulator', '?')}",
        f"- split: seeded 80/10/10 by kind, seed {args.seed}; all models scored on the same "
        f"{results[0].indices.size} test spectra",
        f"- machine: {machine()}",
        f"- command: `python scripts/bench_learn.py {' '.join(sys.argv[1:])}`",
        "- options: " + (", ".join(f"{m}: {o}" for m, o in options.items()) or "defaults"),
        "",
        comparison_markdown(results, {"training time (s)": [f"{t:.0f}" for t in times]}),
    ]
    for res in noisy.values():
        m = res.metrics
        lines += [
            f"With {args.noise_db:g} dB Gaussian noise on every test TS value, "
            f"{res.model}: accuracy {m['accuracy']:.3f}, R² θ {m['r2_theta']:.3f}, "
            f"a {m['r2_a']:.3f}, b {m['r2_b']:.3f}, α {m['r2_alpha']:.3f}.",
            "",
        ]
    lines += [f"![true vs predicted]({figure.name})", ""]
    if args.outliers > 0:
        lines += ["## Outliers", ""] + [outlier_report(r, args.outliers) for r in results]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}, {out.with_suffix('.csv')}, {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
