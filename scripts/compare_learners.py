"""The Table II analogue: train cnn, knn, svm and rf on one dataset and compare them.

All steps use the project's own commands, in this order:

1. `ts-toolkit train DATA --model M --seed SEED` for each learner (same seed, so the same
   80/10/10 split); a model file that already exists is kept, so a run cut short resumes;
2. `ts-toolkit evaluate DATA --model cnn.tsm --model knn.tsm ...` on the shared test split
   (table as Markdown/CSV, Figure 3 analogue, outliers);
3. the same for the CNN with 1 dB of Gaussian noise added to every TS value.

Each step's wall time and exit status go to OUT/runs.json; the tables are in OUT/evaluate
and OUT/evaluate-noise-1dB.

    python scripts/compare_learners.py work/table1.nc --out work/compare
    python scripts/compare_learners.py work/table1.nc --cnn-width 64 --cnn-epochs 100 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEARNERS = ("knn", "svm", "rf", "cnn")


def run(args: list[str], log: list[dict], label: str) -> int:
    """Run `ts-toolkit ARGS`, record its wall time and exit status under ``label``."""
    print("$ ts-toolkit", " ".join(args), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run([sys.executable, "-m", "ts_toolkit", *args]).returncode
    log.append({"step": label, "wall_s": round(time.perf_counter() - t0, 1), "exit": rc})
    return rc


def train_args(name: str, data: Path, out: Path, a: argparse.Namespace) -> list[str]:
    args = ["train", str(data), "--model", name, "--out", str(out), "--seed", str(a.seed)]
    if name == "cnn":
        args += [
            "--epochs",
            str(a.cnn_epochs),
            "--device",
            a.device,
            "--set",
            f"width={a.cnn_width}",
        ]
        args += ["--threads", str(a.threads)]
        for kv in a.cnn_set:
            args += ["--set", kv]
    else:
        args += ["--n-jobs", str(a.threads)]
        if name == "rf":
            args += ["--set", f"n_estimators={a.rf_trees}"]
    return args


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("data", type=Path, help="labelled spectra (e.g. work/table1.nc)")
    ap.add_argument("--out", type=Path, default=REPO / "work" / "compare")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=LEARNERS)
    ap.add_argument("--cnn-width", type=int, default=64)
    ap.add_argument("--cnn-epochs", type=int, default=100)
    ap.add_argument("--cnn-set", action="append", default=[], help="more cnn KEY=VALUE")
    ap.add_argument("--device", default="auto", help="cnn device: auto, cpu or cuda")
    ap.add_argument("--rf-trees", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"error: no such dataset: {args.data}")
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "runs.json"
    log: list[dict] = json.loads(log_path.read_text()) if log_path.exists() else []

    models = []
    for name in args.learners:
        model = args.out / f"{name}.tsm"
        if not model.exists():
            rc = run(train_args(name, args.data, model, args), log, f"train {name}")
            log_path.write_text(json.dumps(log, indent=1))
            if rc != 0:
                raise SystemExit(f"error: training {name} failed (exit {rc})")
        models.append(model)

    compare = ["evaluate", str(args.data), "--out-dir", str(args.out / "evaluate")]
    compare += ["--outliers", "10"]
    for model in models:
        compare += ["--model", str(model)]
    run(compare, log, "evaluate")
    if "cnn" in args.learners:
        noisy = ["evaluate", str(args.data), "--model", str(args.out / "cnn.tsm")]
        noisy += ["--noise-db", "1", "--out-dir", str(args.out / "evaluate-noise-1dB")]
        run(noisy, log, "evaluate cnn, 1 dB noise")
    log_path.write_text(json.dumps(log, indent=1))
    print(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
