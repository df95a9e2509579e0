"""The ``inversion`` model: library search, exact refinement, intervals, misfit, model
file, ``predict --model inversion --plot`` (issue 29)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ts_toolkit
from ts_toolkit.errors import InputFileError, TsToolkitError
from ts_toolkit.learn.split import split_dataset
from ts_toolkit.modelfile import load_model, resolve_model
from ts_toolkit.plugins import get_classifier

SPACE = Path(__file__).parent / "data" / "inversion_space.toml"


@pytest.fixture(scope="module")
def spectra() -> xr.Dataset:
    return ts_toolkit.simulate(SPACE, seed=3)


@pytest.fixture(scope="module")
def fitted(spectra, tmp_path_factory) -> tuple[Path, object]:
    split = split_dataset(spectra, 1)
    model = get_classifier("inversion", calibration_targets=12, tau_targets=30, seed=0)
    model.split = split
    model.fit(spectra.isel(target=split.train), spectra.isel(target=split.validation))
    path = tmp_path_factory.mktemp("inv") / "inv.tsm"
    model.save(path)
    return path, model


def test_library_member_is_recovered_exactly(spectra, fitted):
    _, model = fitted
    lib = model.library_
    j = 7
    out = model.invert(lib.ts[j : j + 1])
    assert out["misfit"][0] < 0.05  # the member itself, up to the 0.01 dB storage rounding
    np.testing.assert_allclose(out["fit"][0, :3], lib.params[j, :3], rtol=1e-6)
    assert (out["p_gas"][0] >= 0.5) == bool(lib.gas[j])


def test_size_scaling_finds_a_smaller_copy(fitted):
    """A member's shape at 0.8 of its size (TS(f; 0.8 Req) = TS(0.8 f; Req) + 20 log10 0.8)
    is found at its own size, not at the member's."""
    _, model = fitted
    lib = model.library_
    f = lib.frequency
    j = int(np.flatnonzero(~lib.gas & (lib.params[:, 0] > 7e-3))[0])
    c = 0.8
    req, alpha, theta, g, h = lib.params[j]
    a, b = req * alpha ** (2 / 3), req / alpha ** (1 / 3)
    ts = model.model_spectrum(f, "liquid", c * a, c * b, theta, g, h)  # exact, at 0.8 Req
    ts[c * f < f[0]] = np.nan  # where the member's grid cannot stand in
    out = model.invert(ts[None, :])
    assert abs(out["fit"][0, 0] / (c * lib.params[j, 0]) - 1) < 0.05
    assert out["misfit"][0] < 0.5


def test_held_out_spectra_intervals_and_misfit(spectra, fitted):
    path, model = fitted
    test = spectra.isel(target=model.split.test)
    out = model.predict(test)
    kinds = np.asarray(out["kind"].values).astype(str)
    assert (kinds == test["kind"].values.astype(str)).mean() >= 0.9
    for name in ("theta", "a", "b"):
        low, high = out[f"{name}_low"].values, out[f"{name}_high"].values
        assert np.all(low <= high)
        cover = ((test[name].values >= low) & (test[name].values <= high)).mean()
        assert cover >= 0.6, (name, cover)  # 30 targets; calibrated to 90 % on validation
    assert np.all(np.isfinite(out["misfit"].values))
    assert np.median(out["misfit"].values) < 3.0
    assert set(out.attrs) >= {"misfit_threshold_db", "tau_db"}


def test_scaled_search_equals_interpolating_the_library(fitted):
    """The search's matrix-product form gives the misfits of the interpolated, scaled
    library members (computed here directly), on a band with a gap."""
    from ts_toolkit_plugins.inversion.library import scale_ladder, scaled_search

    _, model = fitted
    lib = model.library_
    f = lib.frequency
    measured = ((f >= 60e3) & (f <= 120e3)) | ((f >= 150e3) & (f <= 200e3))
    rng = np.random.default_rng(1)
    ts = lib.ts[[2, 5]] + rng.normal(0.0, 1.0, (2, f.size))
    ts[:, ~measured] = np.nan
    rms, scale = scaled_search(lib, ts, measured, 0.06)
    want = np.full_like(rms, np.inf)
    lo = {g: lib.bounds(g)[0][0] for g in (True, False)}
    hi = {g: lib.bounds(g)[1][0] for g in (True, False)}
    for c in scale_ladder(f, measured, 0.06):
        scaled = np.stack([np.interp(c * f[measured], f, row) for row in lib.ts]) + 20 * np.log10(c)
        r = np.sqrt(((ts[:, None, measured] - scaled[None]) ** 2).mean(axis=2))
        req = lib.params[:, 0] * c
        inside = np.array([lo[g] <= q <= hi[g] for g, q in zip(lib.gas, req)])
        r[:, ~inside] = np.inf
        want = np.minimum(want, r)
    assert scale_ladder(f, measured, 0.06).size > 3
    np.testing.assert_allclose(rms[np.isfinite(want)], want[np.isfinite(want)], atol=1e-9)
    assert np.array_equal(np.isinf(rms), np.isinf(want))
    assert np.all((scale > 0.5) & (scale < 3.0))


def test_posterior_only_gives_the_same_intervals(fitted):
    _, model = fitted
    ts = model.library_.ts[10:12] + np.random.default_rng(2).normal(0.0, 1.0, (2, 1))
    full = model.invert(ts)
    post = model.invert(ts, refine=False)
    for name in ("theta_low", "a_high", "b_low", "p_gas", "llr"):
        np.testing.assert_array_equal(post[name], full[name])
    assert np.isnan(post["misfit"]).all() and np.isfinite(full["misfit"]).all()


def test_any_band_and_noise_flagged(fitted):
    _, model = fitted
    lib = model.library_
    narrow = np.where((lib.frequency >= 60e3) & (lib.frequency <= 90e3), lib.ts[3], np.nan)
    rng = np.random.default_rng(0)
    noise = rng.uniform(-90, -40, lib.frequency.size)  # no spheroid looks like this
    ds = xr.Dataset(
        {"TS": (("target", "frequency"), np.stack([narrow, noise]))},
        coords={"target": [0, 1], "frequency": lib.frequency},
    )
    out = model.predict(ds)
    assert out["coverage"].values[0] == pytest.approx(np.isfinite(narrow).mean())
    assert not bool(out["ood"].values[0])
    assert bool(out["ood"].values[1])
    assert out["misfit"].values[1] > out.attrs["misfit_threshold_db"]
    # narrow band: wider intervals than with the whole grid
    full = model.predict(ds.isel(target=[0]).assign(TS=(("target", "frequency"), lib.ts[3:4])))
    assert (out["a_high"].values[0] - out["a_low"].values[0]) >= (
        full["a_high"].values[0] - full["a_low"].values[0]
    )


def test_model_file_round_trip_and_damage(fitted, tmp_path):
    path, model = fitted
    loaded = load_model(path)
    assert loaded.tau_db_ == pytest.approx(model.tau_db_)
    np.testing.assert_allclose(loaded.library_.ts, np.round(model.library_.ts, 2), atol=1e-9)
    bad = tmp_path / "bad.tsm"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("library-ts.npy"):
                data = data[:200]
            dst.writestr(item, data)
    with pytest.raises(InputFileError):
        load_model(bad)


def test_the_inversion_needs_simulated_parameters(spectra):
    model = get_classifier("inversion")
    split = split_dataset(spectra, 1)
    plain = spectra.drop_vars(["rho_s", "c_s"])
    with pytest.raises(TsToolkitError, match="simulated parameters"):
        model.fit(plain.isel(target=split.train), plain.isel(target=split.validation))


def test_bundled_model_names():
    with pytest.raises(InputFileError, match="not a bundled model"):
        resolve_model("nonsense")
    with pytest.raises(InputFileError, match="file not found"):
        resolve_model("missing.tsm")
    assert resolve_model(None).name == "default.tsm"
    assert resolve_model("inversion").name == "inversion.tsm"


def test_fit_plots(spectra, fitted, tmp_path):
    from ts_toolkit.fitplots import plot_target_fits

    _, model = fitted
    test = spectra.isel(target=model.split.test[:3])
    pred = model.predict(test)
    inverted = test.copy()
    for name in pred.data_vars:
        inverted[f"pred_{name}"] = pred[name]
    paths = plot_target_fits(test, model, inverted, inverted, tmp_path / "plots", "same")
    assert [p.name for p in paths] == ["target-0000.png", "target-0001.png", "target-0002.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},  # the whole table on one line per target
    )


def test_predict_inversion_on_a_synthetic_survey_with_plots(tmp_path):
    """The demo's kind of survey (prolate spheroids, 70/120/200 kHz): the bundled inversion
    prints misfits and intervals, writes them, and one plot per target."""
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    raw = tmp_path / "survey.raw"
    write_raw(make_survey(3, 2, space=demo_space()), raw)
    csv, plots = tmp_path / "inv.csv", tmp_path / "plots"
    r = _cli("predict", str(raw), "--model", "inversion", "--out", str(csv), "--plot", str(plots))
    assert r.returncode == 0, r.stderr
    assert "misfit dB" in r.stdout
    table = pd.read_csv(csv)
    assert len(table) >= 3
    for col in ("misfit", "a_low", "a_high", "theta_low", "ood", "llr_gas_liquid"):
        assert table[col].notna().all(), col
    assert (table["a_low"] <= table["a_high"]).all()
    pngs = sorted(plots.glob("target-*.png"))
    assert len(pngs) == len(table)
    assert "wrote" in r.stdout and str(plots) in r.stdout
    # plots are never replaced unasked
    r = _cli("predict", str(raw), "--model", "inversion", "--plot", str(plots))
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_batch_report_shows_inversion_fits(tmp_path):
    """A batch classified by the inversion: its HTML report draws each of the (three)
    targets' measured spectrum, fit and the learned model's answer."""
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    raw = tmp_path / "survey.raw"
    write_raw(make_survey(3, 2, space=demo_space()), raw)
    out = tmp_path / "out.nc"
    r = _cli("batch", str(raw), "--model", "inversion", "--scheduler", "synchronous",
             "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    n = len(pd.read_csv(out.with_suffix(".csv")))
    assert n >= 3
    page = out.with_name("out-report.html").read_text()
    section = page[page.index("<h2>Inversion fits</h2>") : page.index("<h2>Failed files</h2>")]
    assert f"{min(n, 6)} of {n} targets" in section and "learned model" in section
    assert section.count('src="data:image/png;base64,') == min(n, 6)
    assert "Inversion fits of" in out.with_name("out-report.md").read_text()


def test_predict_inversion_on_the_real_fish(shared_dir, tmp_path):
    src = shared_dir / "ek80" / "real" / "CRIMAC_TSf_singlefish_2022.json"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    raw = tmp_path / "fish.raw"
    assert _cli("ek80-json-to-raw", str(src), "--out", str(raw)).returncode == 0
    csv, plots = tmp_path / "fish.csv", tmp_path / "plots"
    r = _cli("predict", str(raw), "-m", "inversion", "--out", str(csv), "--plot", str(plots))
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(csv)
    fish = table[(table["range"] - 12.0).abs() <= 0.5]
    assert len(fish) == 1
    row = fish.iloc[0]
    assert np.isfinite(row["misfit"]) and row["misfit"] > 0
    assert row["a_low"] <= row["a_high"] and row["kind"] in ("gas", "liquid")
    assert 0.2 < row["coverage"] < 0.5  # 90-170 kHz of 10-260
    assert len(list(plots.glob("target-*.png"))) == len(table)


def test_broadside_threshold_calibrated_saved_and_applied(spectra, monkeypatch, tmp_path):
    """Fits near broadside get their own misfit threshold, set from calibration fits there;
    it survives the model file, and a file without it judges every fit by one threshold."""
    import json

    from ts_toolkit_plugins.inversion import learner as inv_learner

    monkeypatch.setattr(inv_learner, "MIN_BROADSIDE_FITS", 2)
    split = split_dataset(spectra, 1)
    model = get_classifier(
        "inversion",
        calibration_targets=12,
        tau_targets=30,
        broadside_targets=8,
        broadside_deg=60.0,  # the small space has few validation targets near 80-90 deg
        seed=0,
    )
    model.split = split
    model.fit(spectra.isel(target=split.train), spectra.isel(target=split.validation))
    record = model.training
    near = model.misfit_threshold_broadside_db_
    assert record["broadside_threshold_targets"] >= 2
    assert near is not None and np.isfinite(near) and near > 0
    assert record["misfit_threshold_broadside_db"] == pytest.approx(near, abs=1e-4)
    general = model.misfit_threshold_db_
    np.testing.assert_array_equal(model.misfit_thresholds(np.array([10.0, 59.9, 60.0, 90.0])),
                                  [general, general, near, near])  # fmt: skip
    path = tmp_path / "inv.tsm"
    model.save(path)
    again = load_model(path)
    assert again.misfit_threshold_broadside_db_ == pytest.approx(near)
    ds = spectra.isel(target=split.test[:2])
    out = again.predict(ds)
    assert out.attrs["misfit_threshold_broadside_db"] == pytest.approx(near)
    fitted_theta = out["theta"].values
    expect = out["misfit"].values > np.where(fitted_theta >= 60.0, near, general)
    np.testing.assert_array_equal(out["ood"].values, expect)
    # a model file made before the broadside threshold: one threshold for every fit
    weights = model._export_weights()
    calib = json.loads(weights["inversion.json"])
    del calib["misfit_threshold_broadside_db"]
    previous = load_model(path)
    previous._import_weights({**weights, "inversion.json": json.dumps(calib).encode()})
    assert previous.misfit_threshold_broadside_db_ is None
    np.testing.assert_array_equal(previous.misfit_thresholds(np.array([10.0, 90.0])),
                                  [general, general])  # fmt: skip
