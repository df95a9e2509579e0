"""`ts-toolkit train` and `ts-toolkit evaluate` end to end, and their one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_learn_synthetic import entry_point_plugins, synthetic_spectra

from ts_toolkit.spectra import write_spectra


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: object) -> Result:
    """Run ``ts-toolkit ARGS`` in this process (fast), exactly as the console script does."""
    from ts_toolkit import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["ts-toolkit", *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return Result(code, out.getvalue(), err.getvalue())


def run_process(*args: object) -> subprocess.CompletedProcess:
    """Run ``python -m ts_toolkit ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    with entry_point_plugins():
        return _train_two_models(tmp_path_factory)


def _train_two_models(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    write_spectra(synthetic_spectra(300, 32), d / "data.nc")
    r = run_cli("train", d / "data.nc", "--model", "knn", "--out", d / "knn.tsm", "--seed", 3)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "240/30/30" in r.stdout
    r = run_cli(
        "train",
        d / "data.nc",
        "-m",
        "cnn",
        "-o",
        d / "cnn.tsm",
        "--seed",
        3,
        "--epochs",
        4,
        "--batch-size",
        32,
        "--threads",
        1,
        "--set",
        "width=8",
        "--set",
        "input_noise=0",
    )
    assert r.returncode == 0, r.stderr
    assert "val" in r.stdout and "4/4" in r.stdout  # progress bar with validation score
    # not a terminal: one line per epoch as well, for logs of long runs
    assert [line.split()[1] for line in r.stdout.splitlines() if line.startswith("epoch ")] == [
        "1/4",
        "2/4",
        "3/4",
        "4/4",
    ]
    return d


def test_evaluate_writes_table_figure_and_outliers(workdir):
    out = workdir / "report"
    r = run_cli(
        "evaluate",
        workdir / "data.nc",
        "--model",
        workdir / "knn.tsm",
        "--model",
        workdir / "cnn.tsm",
        "--out-dir",
        out,
        "--outliers",
        3,
    )
    assert r.returncode == 0, r.stderr
    assert "R² θ" in r.stdout and "composite" in r.stdout and "warning" not in r.stdout
    md = (out / "comparison.md").read_text()
    assert "| metric | knn | cnn |" in md and "| training time (s) |" in md
    assert "saved test split (seed 3, 30 targets)" in md
    csv = (out / "comparison.csv").read_text().splitlines()
    assert csv[0] == "metric,knn,cnn"
    acc_knn = float(dict((line.split(",")[0], line.split(",")[1]) for line in csv)["accuracy"])
    assert 0.8 <= acc_knn <= 1.0
    assert (out / "true_vs_predicted.png").stat().st_size > 10_000
    outliers = (out / "outliers.md").read_text()
    assert outliers.count("worst-predicted test targets") == 2
    assert "share of worst 10 %" in outliers


def test_evaluate_with_added_noise_scores_lower(workdir):
    out = workdir / "noisy"
    r = run_cli(
        "evaluate",
        workdir / "data.nc",
        "-m",
        workdir / "knn.tsm",
        "--out-dir",
        out,
        "--noise-db",
        4,
    )
    assert r.returncode == 0, r.stderr
    clean = workdir / "clean"
    run_cli("evaluate", workdir / "data.nc", "-m", workdir / "knn.tsm", "--out-dir", clean)

    def composite(d: Path) -> float:
        rows = dict(line.split(",") for line in (d / "comparison.csv").read_text().splitlines())
        return float(rows["composite"])

    assert composite(out) < composite(clean)


def _one_line_error(r: Result | subprocess.CompletedProcess, *fragments: str) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_missing_files_are_one_line_errors(workdir):
    _one_line_error(
        run_cli("evaluate", workdir / "nope.nc", "-m", workdir / "knn.tsm"),
        "file not found",
        "nope.nc",
    )
    _one_line_error(
        run_cli("evaluate", workdir / "data.nc", "-m", workdir / "nope.tsm"),
        "file not found",
        "nope.tsm",
    )


def test_nan_only_spectra_are_one_line_errors(workdir):
    ds = synthetic_spectra(300, 32).copy(deep=True)
    ds["TS"].values[:] = np.nan
    write_spectra(ds, workdir / "nan.nc")
    _one_line_error(
        run_cli("train", workdir / "nan.nc", "-m", "knn", "-o", workdir / "x.tsm"),
        "every TS value is NaN",
        "nan.nc",
    )
    _one_line_error(
        run_cli("evaluate", workdir / "nan.nc", "-m", workdir / "knn.tsm"), "every TS value is NaN"
    )


def test_wrong_grid_is_a_one_line_error(workdir):
    write_spectra(synthetic_spectra(100, 40, f_min=38e3, f_max=200e3), workdir / "other.nc")
    _one_line_error(
        run_process("evaluate", workdir / "other.nc", "-m", workdir / "knn.tsm"),
        "38.0–200.0 kHz, 40 frequencies",
        "10.0–260.0 kHz, 32 frequencies",
    )


def test_bad_model_file_and_options_are_one_line_errors(workdir):
    bad = workdir / "bad.tsm"
    bad.write_text("hello")
    _one_line_error(run_cli("evaluate", workdir / "data.nc", "-m", bad), "not a zip archive")
    _one_line_error(
        run_cli("train", workdir / "data.nc", "-m", "knn", "--epochs", 3),
        "does not take option(s) epochs",
    )
    _one_line_error(
        run_cli("train", workdir / "data.nc", "-m", "knn", "--set", "k"), "--set expects KEY=VALUE"
    )
    _one_line_error(
        run_cli("train", workdir / "data.nc", "-m", "nope"), "unknown classifier 'nope'"
    )
    _one_line_error(
        run_cli("train", workdir / "data.nc", "-m", "cnn", "--set", "width=wide"),
        "invalid option value for model 'cnn'",
    )


def test_models_with_different_splits_are_flagged(workdir):
    r = run_cli("train", workdir / "data.nc", "-m", "knn", "-o", workdir / "knn4.tsm", "--seed", 4)
    assert r.returncode == 0, r.stderr
    out = workdir / "mixed"
    r = run_cli(
        "evaluate",
        workdir / "data.nc",
        "-m",
        workdir / "knn.tsm",
        "-m",
        workdir / "knn4.tsm",
        "--out-dir",
        out,
    )
    assert r.returncode == 0, r.stderr
    assert "different test splits" in " ".join(r.stdout.split())
    assert "| metric | knn | knn4 |" in (out / "comparison.md").read_text()


def test_sigterm_stops_cnn_training_and_saves_the_best_model(tmp_path):
    """`kill` (or `timeout`, or a batch scheduler) on a long run keeps what was learned, and
    the exit status says it was interrupted (130), as for every other command."""
    import os
    import signal
    import time

    write_spectra(synthetic_spectra(200, 16), tmp_path / "data.nc")
    log = tmp_path / "train.log"
    cmd = [sys.executable, "-m", "ts_toolkit", "train", str(tmp_path / "data.nc"), "-m", "cnn"]
    cmd += ["-o", str(tmp_path / "cnn.tsm"), "--epochs", "500", "--threads", "1"]
    cmd += ["--batch-size", "32", "--set", "width=8", "--set", "patience=500"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 240
            while "epoch 2/500" not in log.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=120)
        finally:
            proc.kill()
    text = log.read_text()
    assert rc == 130, text  # every command exits 130 on SIGTERM, keeping what finished
    assert "stopped: interrupted in epoch" in text and "wrote" in text
    assert text.strip().splitlines()[-1].startswith("error: interrupted in epoch"), text
    assert "is saved in" in text.strip().splitlines()[-1]
    from ts_toolkit.modelfile import load_model

    model = load_model(tmp_path / "cnn.tsm")
    assert model.training["stopped"].startswith("interrupted in epoch")
    assert 2 <= model.training["epochs_run"] < 500


def test_an_interrupt_with_nothing_to_keep_says_so_and_exits_130(tmp_path, monkeypatch):
    import ts_toolkit.learn.training as training

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    write_spectra(synthetic_spectra(40, 16), tmp_path / "data.nc")
    monkeypatch.setattr(training, "train_model", interrupted)
    r = run_cli("train", tmp_path / "data.nc", "-m", "cnn", "-o", tmp_path / "cnn.tsm")
    assert r.returncode == 130
    assert r.stderr.strip().splitlines() == ["error: interrupted"]
    assert not (tmp_path / "cnn.tsm").exists()
