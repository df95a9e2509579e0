"""Never destroy input, never half-write output, never replace a file unasked.

An output that is one of a command's inputs is refused (as a file: links and relative
paths resolve); every writer goes through a temporary name and a rename; an existing output
needs ``--overwrite``; a finished ``simulate`` or ``batch`` run again says "already complete"
and exits 0.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import fake_sources
import numpy as np
import pytest
from test_learn_cli import run_cli
from test_learn_synthetic import entry_point_plugins, synthetic_spectra

from ts_toolkit.errors import OutputPathError
from ts_toolkit.outputs import (
    atomic_output,
    check_outputs,
    same_file,
    write_text_atomic,
)
from ts_toolkit.spectra import write_spectra

PRECIOUS = "precious - must survive"
FAST = ["--simulator", "stanton-sphere", "--scheduler", "synchronous"]


def _one_error(r, *fragments: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


# ------------------------------------------------------------------------ the library


def test_same_file_sees_through_links_and_relative_paths(tmp_path, monkeypatch):
    a = tmp_path / "a.raw"
    a.write_text("x")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.raw"
    link.symlink_to(a)
    monkeypatch.chdir(tmp_path / "sub")
    assert same_file("../a.raw", a)
    assert same_file(link, a)
    assert not same_file(tmp_path / "b.raw", a)
    with pytest.raises(OutputPathError, match="is the input file"):
        check_outputs([link], [Path("../a.raw")], overwrite=True)
    with pytest.raises(OutputPathError, match="already exists; pass --overwrite"):
        check_outputs([a])
    check_outputs([a], overwrite=True)
    check_outputs([tmp_path / "new.nc"], [a])


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text(PRECIOUS)
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        tmp.write_text("half a tab")
        raise RuntimeError("disk full")
    assert out.read_text() == PRECIOUS
    assert _leftovers(tmp_path) == []
    write_text_atomic(out, "new")
    assert out.read_text() == "new" and _leftovers(tmp_path) == []


def _write_partially_then_fail(self, path, *args, **kwargs):
    """A writer (method) that writes part of its output to the path given, then fails."""
    if isinstance(path, (str, os.PathLike)):
        Path(path).write_text("partial")
    raise OSError("No space left on device")


def test_plots_are_never_half_written(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ts_toolkit.plotting import plot_spectra

    ds = synthetic_spectra(40, 16)
    png = tmp_path / "fig.png"
    png.write_text(PRECIOUS)
    monkeypatch.setattr(Figure, "savefig", _write_partially_then_fail)
    with pytest.raises(OSError, match="No space left"):
        plot_spectra(ds, png, n=2)
    assert png.read_text() == PRECIOUS and _leftovers(tmp_path) == []


def test_prediction_csv_is_never_half_written(tmp_path, monkeypatch):
    import csv

    from ts_toolkit.apply import write_predictions

    out = tmp_path / "pred.csv"
    out.write_text(PRECIOUS)

    def fail(self, rows):
        raise OSError("No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerows", fail)
    with pytest.raises(OSError):
        write_predictions(None, [{"range": 1.0, "kind": "gas"}], out)
    assert out.read_text() == PRECIOUS and _leftovers(tmp_path) == []


def test_batch_tables_are_never_half_written(tmp_path, monkeypatch):
    import pandas as pd

    from ts_toolkit.batch import run_batch

    fake_sources.install(monkeypatch)
    good = fake_sources.make_cruise(tmp_path)
    assert good
    out = tmp_path / "out" / "cruise.nc"
    files_csv = out.with_name("cruise-files.csv")
    out.parent.mkdir()
    files_csv.write_text(PRECIOUS)
    monkeypatch.setattr(pd.DataFrame, "to_csv", _write_partially_then_fail)
    with pytest.raises(OSError, match="No space left"):
        run_batch(
            [tmp_path / "c.raw"],
            tmp_path / "model.tsm",
            out,
            scheduler="synchronous",
            overwrite=True,
        )
    assert files_csv.read_text() == PRECIOUS and _leftovers(out.parent) == []


# ------------------------------------------------------------------ output is an input


@pytest.fixture
def labelled(tmp_path) -> Path:
    data = tmp_path / "data.nc"
    write_spectra(synthetic_spectra(120, 16), data)
    return data


def test_train_refuses_to_write_the_model_over_its_data(labelled):
    before = labelled.read_bytes()
    with entry_point_plugins():
        r = run_cli("train", labelled, "--model", "knn", "--out", labelled)
    _one_error(r, "--out", "is the input file")
    assert labelled.read_bytes() == before


def test_train_refuses_an_existing_model_without_overwrite(labelled, tmp_path):
    model = tmp_path / "knn.tsm"
    model.write_text(PRECIOUS)
    with entry_point_plugins():
        r = run_cli("train", labelled, "--model", "knn", "--out", model)
        _one_error(r, "already exists; pass --overwrite")
        assert model.read_text() == PRECIOUS
        r = run_cli("train", labelled, "--model", "knn", "--out", model, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert zipfile.is_zipfile(model)


def test_plot_spectra_refuses_its_input_and_existing_pngs(labelled, tmp_path):
    before = labelled.read_bytes()
    r = run_cli("plot-spectra", labelled, "--out", labelled)
    _one_error(r, "is the input file")
    assert labelled.read_bytes() == before
    png = tmp_path / "fig.png"
    png.write_text(PRECIOUS)
    _one_error(run_cli("plot-spectra", labelled, "--out", png), "already exists")
    assert png.read_text() == PRECIOUS
    assert run_cli("plot-spectra", labelled, "--out", png, "--overwrite").returncode == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_refuses_to_write_over_its_space(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text("[kinds.gas]\ncount = 2\n")
    r = run_cli("simulate", "--space", space, "--out", space, "--overwrite", *FAST)
    _one_error(r, "is the input file")
    assert space.read_text() == "[kinds.gas]\ncount = 2\n"


def test_predict_refuses_its_inputs_and_existing_outputs(tmp_path):
    raw = tmp_path / "x.raw"
    raw.write_bytes(b"not really a raw file")
    model = tmp_path / "m.tsm"
    model.write_bytes(b"not really a model")
    for out in (raw, model, Path(os.path.relpath(raw))):
        r = run_cli("predict", raw, "--model", model, "--out", out, "--overwrite")
        _one_error(r, "is the input file")
    assert raw.read_bytes() == b"not really a raw file"
    assert model.read_bytes() == b"not really a model"
    out = tmp_path / "p.csv"
    out.write_text(PRECIOUS)
    _one_error(run_cli("predict", raw, "--model", model, "--out", out), "already exists")
    assert out.read_text() == PRECIOUS


def test_extract_refuses_its_input_and_existing_output(shared_dir, tmp_path):
    raw = tmp_path / "x.raw"
    raw.write_bytes((shared_dir / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw").read_bytes())
    before = raw.read_bytes()
    link = tmp_path / "link.raw"
    link.symlink_to(raw)
    _one_error(run_cli("extract", raw, "--out", raw), "is the input file")
    _one_error(run_cli("extract", raw, "--out", link, "--overwrite"), "is the input file")
    assert raw.read_bytes() == before
    out = tmp_path / "x.spectra.nc"
    out.write_text(PRECIOUS)
    _one_error(run_cli("extract", raw), "x.spectra.nc already exists; pass --overwrite")
    assert out.read_text() == PRECIOUS
    r = run_cli("extract", raw, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x89HDF"


def test_evaluate_refuses_to_replace_its_tables_unasked(labelled, tmp_path):
    with entry_point_plugins():
        model = tmp_path / "knn.tsm"
        assert run_cli("train", labelled, "-m", "knn", "-o", model).returncode == 0
        report = tmp_path / "report"
        report.mkdir()
        (report / "comparison.csv").write_text(PRECIOUS)
        r = run_cli("evaluate", labelled, "-m", model, "--out-dir", report)
        _one_error(r, "comparison.csv already exists; pass --overwrite")
        assert (report / "comparison.csv").read_text() == PRECIOUS
        assert not (report / "comparison.md").exists()
        r = run_cli("evaluate", labelled, "-m", model, "--out-dir", report, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert (report / "comparison.csv").read_text().startswith("metric,")


# ------------------------------------------------------------------------------ batch


@pytest.fixture
def cruise(tmp_path, monkeypatch):
    fake_sources.install(monkeypatch)
    return tmp_path, fake_sources.make_cruise(tmp_path)


def _batch(inputs: Path, out: Path, *extra: str):
    model = (inputs if inputs.is_dir() else inputs.parent) / "model.tsm"
    return run_cli(
        "batch", inputs, "--model", model, "--out", out, "--scheduler", "synchronous", *extra
    )


def test_batch_refuses_to_write_over_an_input_raw(cruise):
    folder, _ = cruise
    raw = folder / "c.raw"
    before = raw.read_bytes()
    _one_error(_batch(raw, raw), "is the input file")
    _one_error(_batch(folder, folder / "model.tsm"), "is the input file")
    assert raw.read_bytes() == before
    assert (folder / "model.tsm").read_text() == "fake model"


def test_batch_refuses_outputs_it_did_not_write(cruise):
    folder, _ = cruise
    out = folder / "cruise.nc"
    report = folder / "cruise-report.md"
    report.write_text(PRECIOUS)
    _one_error(_batch(folder, out), "cruise-report.md already exists; pass --overwrite")
    assert report.read_text() == PRECIOUS and not out.exists()
    assert _batch(folder, out, "--overwrite").returncode == 1  # two files fail, by design
    assert report.read_text() != PRECIOUS


def test_batch_run_again_once_finished_is_already_complete(cruise, monkeypatch):
    folder, good = cruise
    for bad in ("bad.raw", "cwonly.raw"):
        (folder / bad).unlink()
    out = folder / "cruise.nc"
    first = _batch(folder, out)
    assert first.returncode == 0, first.stderr
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("cruise*") if p.is_file()}
    again = _batch(folder, out)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten
    # a new file in the cruise is work to do: processed, and the outputs combined again
    (folder / "f.raw").write_text("targets 2")
    third = _batch(folder, out)
    assert third.returncode == 0 and "already complete" not in third.stdout
    from ts_toolkit.spectra import read_spectra

    assert read_spectra(out).sizes["target"] == sum(good.values()) + 2


def test_batch_resumed_with_another_model_is_refused(cruise):
    folder, _ = cruise
    out = folder / "cruise.nc"
    assert _batch(folder, out).returncode == 1
    (folder / "model.tsm").write_text("another fake model")
    _one_error(_batch(folder, out), "holds results of another model or other options")


# --------------------------------------------------------------------------- simulate


def test_simulate_run_again_once_finished_is_already_complete(tmp_path):
    out = tmp_path / "s.nc"
    args = ("simulate", "--out", out, "--n", "4", "--seed", "3", *FAST)
    assert run_cli(*args).returncode == 0
    stamp = out.stat().st_mtime_ns
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stdout
    assert out.stat().st_mtime_ns == stamp
    # another seed is another job: its output would replace this one
    _one_error(run_cli(*args[: -len(FAST) - 2], "--seed", "4", *FAST), "already exists")
    assert out.stat().st_mtime_ns == stamp


# ------------------------------------------------------------------ evaluate: R² and models


def test_r2_of_one_target_is_undefined_not_zero(tmp_path):
    from ts_toolkit.learn import train_model
    from ts_toolkit.learn.evaluation import evaluate_model
    from ts_toolkit.learn.reports import comparison_markdown

    ds = synthetic_spectra(120, 16)
    with entry_point_plugins():
        model = train_model(ds, "knn", seed=1)
    res = evaluate_model(model, ds, indices=np.array([5]))
    for key in ("r2_theta", "r2_a", "r2_b", "r2_alpha", "composite"):
        assert np.isnan(res.metrics[key]), key
    assert res.metrics["accuracy"] in (0.0, 1.0)
    assert res.warnings and "undefined" in res.warnings[0]
    table = comparison_markdown([res])
    assert "| R² θ | n/a |" in table and "| composite | n/a |" in table
    many = evaluate_model(model, ds, indices=np.arange(30))
    assert np.isfinite(many.metrics["composite"]) and not many.warnings


def test_evaluate_on_one_target_warns_and_shows_n_a(tmp_path):
    ds = synthetic_spectra(120, 16)
    one = tmp_path / "one.nc"
    write_spectra(ds.isel(target=[3]), one)
    with entry_point_plugins():
        write_spectra(ds, tmp_path / "data.nc")
        model = tmp_path / "knn.tsm"
        assert run_cli("train", tmp_path / "data.nc", "-m", "knn", "-o", model).returncode == 0
        r = run_cli("evaluate", one, "-m", model, "--all", "--out-dir", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "R² " in line or "composite" in line]
    assert len(rows) == 5 and all("n/a" in row for row in rows), rows  # not 0.000 and 0.250
    assert "warning: knn: R² of θ, a, b, α is undefined (only 1 scored target" in r.stderr
    md = (tmp_path / "ev" / "comparison.md").read_text()
    assert "| composite | n/a |" in md


def _pickled_cnn_model(src: Path, dst: Path) -> Path:
    """The bundled CNN model with its weights replaced by a pickle of an arbitrary object."""
    import torch

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    buf = io.BytesIO()
    torch.save({"w": Payload()}, buf)
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    weights = "weights/network.pt"  # the network (a calibrated model has other blobs too)
    members[weights] = buf.getvalue()
    meta = json.loads(members["metadata.json"])
    meta["weights"][weights[len("weights/") :]] = hashlib.sha256(buf.getvalue()).hexdigest()
    members["metadata.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_a_pickled_model_is_one_clean_line_naming_the_file(tmp_path):
    import subprocess
    import sys

    from ts_toolkit.modelfile import bundled_model_path

    BUNDLED_MODEL = bundled_model_path()
    if BUNDLED_MODEL is None:
        pytest.skip("no bundled model in this checkout")
    evil = _pickled_cnn_model(BUNDLED_MODEL, tmp_path / "evil.tsm")
    raw = tmp_path / "x.raw"
    raw.write_bytes(b"x")
    r = subprocess.run(
        [sys.executable, "-m", "ts_toolkit", "predict", str(raw), "--model", str(evil)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2
    assert "code ran" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: model file {evil}: cnn weights 'network.pt'")
    reason = "(Unsupported global: GLOBAL print was not an allowed global by default)"
    assert lines[0].endswith(reason), lines[0]
    assert "Warning" not in r.stderr and "\x1b" not in r.stderr
