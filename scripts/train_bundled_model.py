"""Build the previous bundled model (45-260 kHz only; until issue 28) into
src/ts_toolkit/data/default.tsm. The current bundled model is built by
scripts/train_default_model.py (docs/bundled-model.md); this script overwrites it.

Steps, all with the project's own commands:
1. spectra on the 45-260 kHz band of the EK80 ES70-7C/ES120-7C/ES200-7C trio: either the
   30,000-spectrum Table I dataset (`--table1 work/table1.nc`, from
   scripts/make_table1_dataset.py) cut to that band, or `ts-toolkit simulate` of N new spectra
   of Table I on that band (scripts/bundled_space.toml);
2. `ts-toolkit train` the hybrid 1D-CNN on them;
3. `ts-toolkit evaluate` it on the held-out test split;
4. copy the model to src/ts_toolkit/data/default.tsm and record how it was made and how
   well it does in docs/bundled-model.md.

    python scripts/train_bundled_model.py --table1 work/table1.nc --seed 1 --epochs 12 \\
        --width 16 --noise-db 1 --set dropout=0.1 --set t0_epochs=12 --set t_mult=1
    python scripts/train_bundled_model.py --n 1000 --epochs 60 --width 16
"""

from __future__ import annotations

import argparse
import platform
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "scripts" / "bundled_space.toml"
BAND = "the 45-260 kHz band of the EK80 ES70-7C/ES120-7C/ES200-7C trio"


def band_grid() -> tuple[float, float, float]:
    """(start, stop, step) in Hz of the bundled model's grid, from scripts/bundled_space.toml."""
    f = tomllib.loads(SPACE.read_text())["frequency"]
    return f["start"] * 1e3, f["stop"] * 1e3, f["step"] * 1e3


def run(*args: str) -> float:
    print("$ ts-toolkit", " ".join(args), flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ts_toolkit", *args], check=True)
    return time.perf_counter() - t0


def band_limit(source: Path, out: Path) -> tuple[int, int]:
    """Write the part of ``source`` on the bundled grid to ``out``; (targets, frequencies)."""
    from ts_toolkit.spectra import read_spectra, write_spectra

    start, stop, step = band_grid()
    ds = read_spectra(source)
    band = ds.sel(frequency=slice(start, stop))
    f = band["frequency"].values
    if f.size < 2 or f[0] != start or f[-1] != stop or not np.allclose(np.diff(f), step):
        sys.exit(
            f"{source}: its frequency grid does not hold {start:g}-{stop:g} Hz in {step:g} Hz steps"
        )
    band.attrs["band_limited_from"] = str(source.name)
    write_spectra(band, out)
    return int(band.sizes["target"]), int(f.size)


def _demote(markdown: str) -> str:
    """The evaluate table with its headings one level down, to sit under this page's title."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--table1", type=Path, default=None, help="Table I dataset to band-limit")
    ap.add_argument("--n", type=int, default=1000, help="spectra to simulate (no --table1)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--noise-db", type=float, default=0.0, help="training-time TS noise, dB")
    ap.add_argument("--set", action="append", default=[], help="other cnn options KEY=VALUE")
    ap.add_argument("--work", type=Path, default=REPO / "work" / "bundled")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t_sim = 0.0
    if args.table1 is not None:
        data = args.work / "table1-45-260kHz.nc"
        n, n_freq = band_limit(args.table1, data)
        origin = (
            f"the {n:,}-spectrum Table I dataset (`{args.table1.name}`, "
            f"docs/dataset-table1.md) cut to {BAND} ({n_freq} frequencies; "
            f"`{SPACE.relative_to(REPO)}`)"
        )
    else:
        n = args.n
        data = args.work / f"table1-45-260kHz-n{n}.nc"
        t_sim = run(
            "simulate",
            "--out",
            str(data),
            "--n",
            str(n),
            "--seed",
            str(args.seed),
            "--space",
            str(SPACE),
        )
        origin = (
            f"{n} spectra that `ts-toolkit simulate` drew from the paper's Table I space on "
            f"{BAND} (`{SPACE.relative_to(REPO)}`), {t_sim / 60:.1f} min"
        )
    model = args.work / "cnn.tsm"
    extra = [f"width={args.width}", *args.set]
    train_args = ["train", str(data), "--model", "cnn", "--out", str(model)]
    train_args += ["--seed", str(args.seed), "--epochs", str(args.epochs)]
    if args.noise_db:
        train_args += ["--noise-db", str(args.noise_db)]
    for item in extra:
        train_args += ["--set", item]
    t_train = run(*train_args)
    eval_dir = args.work / "evaluate"
    run("evaluate", str(data), "--model", str(model), "--out-dir", str(eval_dir))
    run(
        "evaluate",
        str(data),
        "--model",
        str(model),
        "--noise-db",
        "1",
        "--out-dir",
        str(eval_dir / "noise-1dB"),
    )
    target = REPO / "src" / "ts_toolkit" / "data" / "default.tsm"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(model, target)
    table = _demote((eval_dir / "comparison.md").read_text())
    noisy = _demote((eval_dir / "noise-1dB" / "comparison.md").read_text())
    command = " ".join(shlex.quote(a) for a in sys.argv[1:])
    options = ", ".join(f"`{e}`" for e in extra)
    if args.noise_db:
        options += f", `--noise-db {args.noise_db:g}`"
    doc = f"""# The bundled model

`src/ts_toolkit/data/default.tsm` is what `ts-toolkit predict` and `ts-toolkit demo` use when
no `--model` is given. It was made by

    python scripts/train_bundled_model.py {command}

on this project's 2-core CPU machine (Python {platform.python_version()}) from {origin}.
`ts-toolkit train --model cnn` (at most {args.epochs} epochs, options {options}; early stopping
on the validation composite) took {t_train / 60:.1f} min; size {target.stat().st_size / 1e6:.2f} MB.

Its scores on its own held-out test split ({n // 10} spectra):

{table}

The same test spectra with Gaussian noise of σ = 1 dB added to every TS value
(`evaluate --noise-db 1`):

{noisy}

The model file records the TS range of its training spectra (`training_ts_db`), from which
`predict` and `batch` take their default detection threshold (docs/ek80.md).
"""
    (REPO / "docs" / "bundled-model.md").write_text(doc)
    print(doc)


if __name__ == "__main__":
    main()
