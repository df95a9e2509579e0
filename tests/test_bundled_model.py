"""The model bundled with ts-toolkit: it ships, loads, and drives `predict` and `demo`.

The model itself is built by scripts/train_default_model.py (docs/bundled-model.md).
"""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

from ts_toolkit.modelfile import bundled_model_path as default_model_path
from ts_toolkit.modelfile import load_model, read_metadata

BUNDLED = default_model_path()
pytestmark = pytest.mark.skipif(BUNDLED is None, reason="no bundled model in this checkout")


def _cli(monkeypatch, *args: str) -> int:
    from ts_toolkit.cli import main

    monkeypatch.setattr(sys, "argv", ["ts-toolkit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code or 0


def test_bundled_model_loads_on_the_ek80_trio_band():
    """Since issue 28 the grid is the full 10-260 kHz one, calibrated on every EK80 band set
    (the trio's 45-260 kHz among them)."""
    meta = read_metadata(BUNDLED)
    assert meta["plugin"] == "cnn"
    model = load_model(BUNDLED)
    f = np.asarray(model.frequency)
    assert f[0] == 10e3 and f[-1] == 260e3 and np.allclose(np.diff(f), 500.0)
    assert model.trust is not None and "45-90+90-170+160-260" in model.trust.band_sets
    assert model.trust.min_coverage <= ((f >= 45e3) & (f <= 260e3)).mean()
    assert BUNDLED.stat().st_size <= 20e6


def test_predict_with_the_bundled_model_writes_its_table(tmp_path, monkeypatch):
    raw = tmp_path / "survey.raw"
    code = _cli(
        monkeypatch,
        "synth-raw",
        "--out",
        str(raw),
        "--targets",
        "2",
        "--seed",
        "3",
        "--simulator",
        "stanton-sphere",
    )
    assert code == 0
    out = tmp_path / "targets.csv"
    assert _cli(monkeypatch, "predict", str(raw), "--out", str(out), "--min-ts", "-90") == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2
    assert {r["kind"] for r in rows} <= {"gas", "liquid"}
    for r in rows:
        assert float(r["a"]) > 0 and float(r["b"]) > 0
        assert -5 <= float(r["theta"]) <= 95


@pytest.mark.slow
def test_demo_with_the_bundled_model_and_the_spheroid(tmp_path):
    """What `make demo` runs: prolate-spheroid targets, the bundled CNN."""
    from ts_toolkit.demo import run_demo

    result = run_demo(tmp_path, n_targets=8, seed=1)
    assert result.n_detected == 8
    assert result.kind_accuracy == 1.0
