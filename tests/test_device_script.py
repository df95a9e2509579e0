"""scripts/device_train_cnn.sh, dry-run on CPU: installs the package into a scratch site
without its dependencies, trains within a time budget and leaves model, log and scores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_learn_synthetic import synthetic_spectra

from ts_toolkit.modelfile import load_model
from ts_toolkit.spectra import write_spectra

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device_train_cnn.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_device_script_trains_within_its_budget_and_saves(tmp_path):
    data = write_spectra(synthetic_spectra(120, 16), tmp_path / "small.nc")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "TMPDIR": str(tmp_path)}
    args = ["--epochs", "3", "--set", "width=4", "--threads", "1", "--set", "progress=false"]
    r = subprocess.run(
        ["bash", str(SCRIPT), str(data), str(out), "0.0001", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    model = load_model(out / "cnn.tsm")
    assert model.settings["max_minutes"] == pytest.approx(0.0001)
    assert model.training["epochs_run"] == 1
    assert model.training["stopped"].startswith("time limit")
    log = (out / "train.log").read_text()
    flat = log.replace("\n", "")
    # the package ran from the script's scratch site, not from this checkout
    assert f"ts_toolkit from {tmp_path}" in flat
    assert f"wrote {out / 'cnn.tsm'}" in flat and "R² θ" in log
    assert (out / "evaluate" / "comparison.md").is_file()


def test_device_script_refuses_a_budget_that_is_not_a_number(tmp_path):
    r = subprocess.run(
        ["bash", str(SCRIPT), "data.nc", str(tmp_path), "--epochs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "device_train_cnn.sh: MAX_MINUTES must be a number of minutes, got '--epochs'"
    )
