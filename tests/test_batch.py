"""Batch: inputs, per-file results, failures with reasons, resume after kill, combining."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import fake_sources
import pytest
import xarray as xr

from ts_toolkit.batch import collect_inputs, run_batch
from ts_toolkit.batch_report import write_report
from ts_toolkit.errors import InputFileError
from ts_toolkit.spectra import read_spectra


@pytest.fixture
def cruise(tmp_path, monkeypatch):
    fake_sources.install(monkeypatch)
    monkeypatch.setenv("TS_TOOLKIT_PLUGINS", "")
    return tmp_path, fake_sources.make_cruise(tmp_path)


def test_collect_inputs(cruise):
    folder, _ = cruise
    files = collect_inputs([folder])
    assert len(files) == 8 and all(f.suffix == ".raw" for f in files)
    assert collect_inputs([str(folder / "*.raw")]) == sorted(
        p.resolve() for p in folder.glob("*.raw")
    )
    with pytest.raises(InputFileError, match="not found"):
        collect_inputs([folder / "nope"])
    with pytest.raises(InputFileError, match="no files match"):
        collect_inputs([str(folder / "*.xyz")])


def test_batch_keeps_good_targets_and_lists_failures(cruise):
    folder, good = cruise
    out = folder / "out" / "cruise.nc"
    report = run_batch([folder], folder / "model.tsm", out, scheduler="synchronous")
    reasons = {Path(o.path).name: o.reason for o in report.failed}
    assert set(reasons) == {"bad.raw", "cwonly.raw"}
    assert "corrupt or truncated" in reasons["bad.raw"]
    assert "no FM (broadband) channels" in reasons["cwonly.raw"]
    empty = [o for o in report.outcomes if Path(o.path).name == "empty.raw"]
    assert empty[0].status == "ok" and empty[0].n_targets == 0
    assert "no single targets" in empty[0].reason
    ds = read_spectra(out)
    assert ds.sizes["target"] == sum(good.values())
    per_file = {
        Path(f).name: n
        for f, n in zip(
            *__import__("numpy").unique(ds["file"].values.astype(str), return_counts=True)
        )
    }
    assert per_file == {Path(k).name: v for k, v in good.items()}
    assert ds["frequency"].values[0] == 34e3 and ds.sizes["frequency"] == 23
    for name in ("pred_kind", "pred_a", "pred_theta"):
        assert name in ds
    csv = out.with_suffix(".csv").read_text().splitlines()
    assert len(csv) == 1 + sum(good.values())
    files_csv = out.with_name("cruise-files.csv").read_text()
    assert "corrupt or truncated" in files_csv
    text = write_report(report)
    assert "2 failed" in text and "bad.raw" in text
    assert out.with_name("cruise-sizes.png").stat().st_size > 5000


def test_rerun_skips_done_files(cruise):
    folder, _ = cruise
    out = folder / "cruise.nc"
    run_batch([folder], folder / "model.tsm", out, scheduler="synchronous")
    again = run_batch([folder], folder / "model.tsm", out, scheduler="synchronous")
    assert again.skipped == 8
    assert len(again.outcomes) == 8


def test_dask_threads_gives_the_same_result(cruise):
    folder, _ = cruise
    a = folder / "a.nc"
    b = folder / "b.nc"
    run_batch([folder], folder / "model.tsm", a, scheduler="synchronous")
    run_batch([folder], folder / "model.tsm", b, scheduler="threads", workers=2)
    _assert_same(read_spectra(a), read_spectra(b))


def _assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    a, b = a.copy(), b.copy()
    for d in (a, b):
        d.attrs.pop("date_created")
    xr.testing.assert_identical(a, b)


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import fake_sources
fake_sources.install()
from ts_toolkit.batch import run_batch
run_batch([{folder!r}], {model!r}, {out!r}, scheduler="synchronous")
"""


def test_kill_midway_and_rerun_gives_the_same_output(cruise, monkeypatch):
    folder, _ = cruise
    out = folder / "killed.nc"
    code = RUNNER.format(
        tests=str(Path(__file__).parent),
        folder=str(folder),
        model=str(folder / "model.tsm"),
        out=str(out),
    )
    env = dict(__import__("os").environ, FAKE_SOURCE_DELAY="0.3", TS_TOOLKIT_PLUGINS="")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    work = folder / "killed.nc.work"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(work.glob("*.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(work.glob("*.json")))
    assert 3 <= n_done < 8
    assert not out.exists()
    report = run_batch([folder], folder / "model.tsm", out, scheduler="synchronous")
    assert report.skipped == n_done
    fresh = folder / "fresh.nc"
    run_batch([folder], folder / "model.tsm", fresh, scheduler="synchronous")
    _assert_same(read_spectra(out), read_spectra(fresh))


def test_cli_batch_exit_code_says_completed_with_failures(cruise, monkeypatch, capsys):
    from ts_toolkit.cli import main

    folder, _ = cruise
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "ts-toolkit",
            "batch",
            str(folder),
            "--model",
            str(folder / "model.tsm"),
            "--out",
            str(folder / "c.nc"),
            "--scheduler",
            "synchronous",
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert "completed with failures: 2 of 8 files failed" in captured.err


def test_cli_batch_missing_model_is_one_line(cruise, monkeypatch, capsys):
    from ts_toolkit.cli import main

    folder, _ = cruise
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "ts-toolkit",
            "batch",
            str(folder),
            "--model",
            str(folder / "nope.tsm"),
            "--out",
            str(folder / "c.nc"),
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: model file not found: {folder / 'nope.tsm'}"
    ]
