"""scripts/contrast_ablation.py: each arm's liquid targets get the contrast it names and their
spectra from the exact model; the whole run trains, scores and resumes on a small data set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from test_learn_synthetic import synthetic_spectra

from ts_toolkit.plugins import get_simulator

pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "contrast_ablation.py"


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("contrast_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def labelled(n: int = 48):
    """Synthetic spectra (12 frequencies, 20-60 kHz) with Table I-like materials."""
    ds = synthetic_spectra(n, 12, seed=5, f_min=20e3, f_max=60e3).copy()
    rng = np.random.default_rng(0)
    liquid = ds["kind"].values == "liquid"
    g, h = rng.uniform(1.01, 1.07, n), rng.uniform(1.01, 1.07, n)
    ds["rho_w"] = ("target", np.full(n, 1027.0))
    ds["c_w"] = ("target", np.full(n, 1500.0))
    ds["rho_s"] = ("target", np.where(liquid, g * 1027.0, rng.uniform(2.0, 80.0, n)))
    ds["c_s"] = ("target", np.where(liquid, h * 1500.0, 343.0))
    return ds


def test_each_arm_has_the_contrast_it_names(ablation):
    liq = ablation._subset(labelled(), "liquid", 10, seed=0)
    g = liq["rho_s"].values / liq["rho_w"].values
    h = liq["c_s"].values / liq["c_w"].values
    assert np.ptp(g) > 0.01 and np.ptp(h) > 0.01 and not np.allclose(g, h)
    rho, c = ablation.arm_materials(liq, "indep", 1.04)
    np.testing.assert_array_equal(rho / liq["rho_w"].values, g)
    np.testing.assert_array_equal(c / liq["c_w"].values, h)
    rho, c = ablation.arm_materials(liq, "tied", 1.04)
    np.testing.assert_allclose(c / liq["c_w"].values, g, rtol=1e-14)
    np.testing.assert_array_equal(rho / liq["rho_w"].values, g)
    rho, c = ablation.arm_materials(liq, "fixed", 1.04)
    np.testing.assert_allclose(rho / liq["rho_w"].values, 1.04, rtol=1e-14)
    np.testing.assert_allclose(c / liq["c_w"].values, 1.04, rtol=1e-14)


@pytest.mark.slow  # 4 large liquid spectra, twice: 30-90 s on 2 cores (make bench runs it)
def test_tied_spectra_are_the_exact_models(ablation):
    liq = ablation._subset(labelled(), "liquid", 4, seed=0)
    tied = ablation.liquid_spectra(liq, "tied", 1.04, workers=1)
    f = liq["frequency"].values
    sim = get_simulator("prolate-spheroid")
    p = {k: liq[k].values for k in ("a", "b", "theta", "rho_s", "rho_w", "c_w")}
    want = sim.ts(f, c_s=p["rho_s"] / p["rho_w"] * p["c_w"], **p)
    np.testing.assert_allclose(tied["TS"].values, want, rtol=0, atol=1e-4)  # float32
    assert ablation.liquid_spectra(liq, "indep", 1.04, workers=1) is liq  # stored spectra


def test_a_small_run_trains_scores_and_resumes(ablation, tmp_path, monkeypatch, capsys):
    data = tmp_path / "small.nc"
    labelled().to_netcdf(data)
    work, out = tmp_path / "work", tmp_path / "table.md"
    argv = [str(SCRIPT), str(data), "--work", str(work), "--n", "24", "--width", "8"]
    argv += ["--epochs", "2", "--workers", "1", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    ablation.main()
    table = out.read_text().splitlines()
    assert [row.split("|")[1].strip() for row in table[2:]] == ["indep", "tied", "fixed"]
    for arm in ("indep", "tied", "fixed"):
        assert (work / f"liq-{arm}.nc").is_file() and (work / f"contrast-{arm}.tsm").is_file()
    models = {p: p.stat().st_mtime_ns for p in work.iterdir()}
    ablation.main()  # a second run reuses spectra and models, and reports the same
    assert {p: p.stat().st_mtime_ns for p in work.iterdir()} == models
    assert out.read_text().splitlines() == table
    assert "simulated" in capsys.readouterr().out


def test_a_missing_data_file_is_a_one_line_error(ablation, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), str(tmp_path / "no.nc"), "--work", "w"])
    with pytest.raises(SystemExit, match="no such file"):
        ablation.main()
