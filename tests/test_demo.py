"""End to end: synthetic survey -> EK80 source -> trained model -> comparison with truth."""

from __future__ import annotations

import sys

import pytest

from ts_toolkit.demo import run_demo

SPACE = """
[frequency]
start = 45
stop = 260
step = 0.5
[kinds.gas]
count = 150
[kinds.liquid]
count = 150
Req = { min = 10e-3, max = 20e-3 }
theta = { min = 45, max = 90 }
"""


def _cli(monkeypatch, *args: str) -> None:
    from ts_toolkit.cli import main

    monkeypatch.setattr(sys, "argv", ["ts-toolkit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)


@pytest.fixture(scope="module")
def knn_model(tmp_path_factory):
    """A KNN model trained with the project's own commands on Stanton-sphere spectra."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("demo-model")
    (tmp / "space.toml").write_text(SPACE)
    data, model = tmp / "train.nc", tmp / "knn.tsm"
    _cli(
        mp,
        "simulate",
        "--out",
        str(data),
        "--space",
        str(tmp / "space.toml"),
        "--simulator",
        "stanton-sphere",
        "--scheduler",
        "synchronous",
    )
    _cli(mp, "train", str(data), "--model", "knn", "--out", str(model))
    mp.undo()
    return model


def test_demo_detects_every_target_and_reports_errors(tmp_path, knn_model):
    result = run_demo(tmp_path, n_targets=6, seed=4, model=knn_model, simulator="stanton-sphere")
    assert result.raw.exists() and (tmp_path / "demo-truth.nc").exists()
    assert result.n_detected == 6
    assert result.match.attrs["n_unmatched_found"] == 0
    assert result.kind_accuracy == 1.0
    for row in result.table:
        for name in ("a", "b", "alpha", "theta"):
            assert f"{name}_pred" in row and f"{name}_true" in row
    # the extracted TS(f) follows the truth closely: the chain is calibrated
    assert float(result.match["ts_median_abs_error"].max()) < 0.5


def test_demo_command_prints_the_comparison(tmp_path, knn_model, monkeypatch, capsys):
    _cli(
        monkeypatch,
        "demo",
        "--out-dir",
        str(tmp_path),
        "--targets",
        "3",
        "--model",
        str(knn_model),
        "--simulator",
        "stanton-sphere",
    )
    out = capsys.readouterr().out
    assert "detected 3 of 3 targets" in out
    assert "kind correct for 100%" in out


def test_demo_without_model_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from ts_toolkit.cli import main

    monkeypatch.setattr(
        sys,
        "argv",
        ["ts-toolkit", "demo", "--out-dir", str(tmp_path), "--model", str(tmp_path / "none.tsm")],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: model file not found")
