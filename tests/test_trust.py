"""Band sets, band-masked CNN training, and what a calibrated model says about how far to
trust it: coverage, conformal intervals, calibrated probabilities, the OOD flag (issue 28)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_cnn import FAST
from test_learn_cli import run_cli
from test_learn_synthetic import entry_point_plugins, synthetic_spectra

from ts_toolkit.errors import InvalidParameterError, ModelMismatchError
from ts_toolkit.learn.bands import (
    band_mask,
    band_masks,
    format_band_set,
    nearest_band_set,
    parse_band_set,
    parse_band_sets,
)
from ts_toolkit.learn.trust import (
    calibrated_proba,
    conformal_half_width,
    fit_embedding,
    fit_temperature,
    mahalanobis_min,
    min_coverage_rule,
    ood_scores,
    roughness,
)

torch = pytest.importorskip("torch")

SETS = "10-260;10-100;100-260+30-60;30-60"


def test_band_sets_parse_format_and_mask():
    assert parse_band_set("90-170+34-45") == ((34e3, 45e3), (90e3, 170e3))
    assert format_band_set(parse_band_set("34-45+90-170")) == "34-45+90-170"
    assert len(parse_band_sets(" 10-260 ; 34-45 ;")) == 2
    for bad in ("34", "45-34", "a-b", "34-45+"):
        with pytest.raises(InvalidParameterError, match="band"):
            parse_band_set(bad)
    f = np.arange(10e3, 260.5e3, 500.0)
    m = band_mask(f, parse_band_set("34-45"))
    assert m.sum() == 23 and f[m][0] == 34e3 and f[m][-1] == 45e3
    with pytest.raises(InvalidParameterError, match="cover no frequency"):
        band_masks(f, [parse_band_set("300-400")])
    masks = band_masks(f, parse_band_sets("10-260;34-45;90-170"))
    measured = np.zeros((2, f.size), bool)
    measured[0, (f >= 35e3) & (f <= 44e3)] = True  # most like 34-45
    measured[1, (f >= 80e3) & (f <= 175e3)] = True  # most like 90-170
    assert nearest_band_set(measured, masks).tolist() == [1, 2]


def test_conformal_half_width_is_the_finite_sample_quantile():
    r = np.arange(1.0, 20.0)  # 19 residuals: ceil(20 * 0.9) = 18th smallest
    assert conformal_half_width(r, 0.9) == 18.0
    assert conformal_half_width(-r, 0.9) == 18.0
    assert conformal_half_width(np.arange(1.0, 5.0), 0.9) == np.inf  # too few for 90 %


def test_temperature_softens_overconfident_mistakes_and_never_sharpens():
    rng = np.random.default_rng(0)
    kind = rng.integers(0, 2, 400)
    wrong = rng.random(400) < 0.2  # 20 % confidently wrong
    said = np.where(wrong, 1 - kind, kind)
    proba = np.where(said[:, None] == 1, [[1e-6, 1 - 1e-6]], [[1 - 1e-6, 1e-6]])
    t = fit_temperature(proba, kind)
    assert t > 3.0
    cal = calibrated_proba(proba, np.full(400, t))
    assert 0.7 < cal.max(axis=1).mean() < 0.9  # about the 80 % it gets right
    right = np.where(kind[:, None] == 1, [[0.2, 0.8]], [[0.8, 0.2]])
    assert fit_temperature(right, kind) == 1.0  # all right: not sharpened


def test_ood_score_is_the_rms_db_distance_to_the_nearest_reference():
    rng = np.random.default_rng(1)
    ref = rng.normal(-60, 5, (50, 30))
    q = ref[[3, 7]] + np.array([[1.0], [2.0]])  # offsets of 1 and 2 dB everywhere
    q[1, :10] = np.nan  # measured on 20 frequencies only
    got = ood_scores(q, ref, chunk=1)
    d = np.nanmean((q[:, None, :] - ref[None]) ** 2, axis=2)
    assert got == pytest.approx(np.sqrt(d.min(axis=1)), abs=1e-9)
    assert got == pytest.approx([1.0, 2.0], abs=1e-9)
    assert np.isnan(ood_scores(np.full((1, 30), np.nan), ref)[0])


def test_roughness_and_mahalanobis():
    rng = np.random.default_rng(2)
    smooth = np.linspace(-60, -40, 50)[None].repeat(2, axis=0)
    noisy = smooth + rng.normal(0, 5, smooth.shape)
    noisy[1, 10:20] = np.nan
    r = roughness(np.concatenate([smooth, noisy]))
    assert r[:2] == pytest.approx(0.0, abs=1e-9) and (r[2:] > 5).all()
    assert np.isnan(roughness(np.array([[1.0, np.nan, np.nan]]))[0])
    emb = np.concatenate([rng.normal(0, 1, (500, 3)), rng.normal(10, 1, (500, 3))])
    kind = np.repeat([0, 1], 500)
    means, prec = fit_embedding(emb, kind, 2)
    assert means[1] == pytest.approx([10, 10, 10], abs=0.2)
    d = mahalanobis_min(np.array([[0.0, 0, 0], [10, 10, 10], [5, 5, 5], [30, 0, 0]]), means, prec)
    assert d[0] < 0.3 and d[1] < 0.3 and d[2] > 5 and d[3] > 15


def test_min_coverage_rule():
    cover = np.array([1.0, 0.6, 0.3, 0.05])
    assert min_coverage_rule(cover, np.array([0.9, 0.8, 0.6, 0.1]), 0.5) == 0.3
    assert min_coverage_rule(cover, np.array([0.9, 0.4, 0.6, 0.9]), 0.5) == 1.0
    assert min_coverage_rule(cover, np.array([0.4, 0.9, 0.9, 0.9]), 0.5) == 1.0


def test_band_sets_option_is_checked():
    from ts_toolkit_plugins.cnn.learner import CNNLearner

    with pytest.raises(InvalidParameterError, match="band"):
        CNNLearner(band_sets="10-260;34")


def test_training_masks_each_spectrum_to_one_of_the_band_sets():
    from ts_toolkit.learn import train_model
    from ts_toolkit_plugins.cnn import network

    seen: list[np.ndarray] = []
    original = network.HybridCNN.forward

    def spy(self, x):
        if self.training:
            seen.append(x[:, 1].detach().numpy().copy())
        return original(self, x)

    ds = synthetic_spectra(120, 64, seed=3)
    f = ds["frequency"].values
    masks = band_masks(f, parse_band_sets("10-100;150-260"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(network.HybridCNN, "forward", spy)
        train_model(ds, "cnn", seed=0, **{**FAST, "epochs": 2, "band_sets": "10-100;150-260"})
    rows = np.concatenate(seen)
    same = (rows[:, None, :] == masks[None].astype(np.float32)).all(axis=2)
    assert same.any(axis=1).all()  # every training input is one of the two masks
    assert same[:, 0].sum() > 20 and same[:, 1].sum() > 20  # and both are drawn


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A small band-masked CNN, calibrated on its validation split, saved and loaded."""
    from ts_toolkit.learn import train_model
    from ts_toolkit.learn.trust import calibrate
    from ts_toolkit.modelfile import load_model

    with entry_point_plugins():
        ds = synthetic_spectra(600, 64, seed=1)
        opts = {**FAST, "epochs": 8, "band_sets": SETS, "position_channel": True}
        model = train_model(ds, "cnn", seed=1, **opts)
        calibrate(model, ds, SETS, n_reference=300, r2_floor=0.0)
        path = tmp_path_factory.mktemp("trust") / "cal.tsm"
        model.save(path)
        return ds, model, load_model(path), path


def test_calibration_survives_the_model_file(calibrated):
    ds, model, loaded, _ = calibrated
    assert loaded.trust is not None
    assert loaded.trust.band_sets == model.trust.band_sets
    assert loaded.trust.temperature == pytest.approx(model.trust.temperature)
    for name, w in model.trust.half_widths.items():
        assert loaded.trust.half_widths[name] == pytest.approx(w)
    assert loaded.trust.reference == pytest.approx(model.trust.reference, abs=1e-9)
    a, b = model.predict(ds), loaded.predict(ds)
    for name in ("probability", "a_low", "theta_high", "ood_score", "coverage"):
        assert np.asarray(b[name].values) == pytest.approx(np.asarray(a[name].values))
    assert model.trust.embedding_threshold is not None
    for name in ("ood_embedding_score", "roughness"):
        assert np.asarray(b[name].values) == pytest.approx(np.asarray(a[name].values))


def test_intervals_cover_and_widen_on_narrow_bands(calibrated):
    from ts_toolkit.learn.bandeval import evaluate_band_sets

    ds, _, model, _ = calibrated
    rows, note = evaluate_band_sets(model, ds, "10-260;30-60")
    assert "test split" in note
    full, narrow = rows
    assert full["coverage"] == 1.0 and narrow["coverage"] < 0.15
    for r in rows:  # 60 test targets: 90 % intervals hold most truths
        for name in ("theta", "a", "b"):
            assert r[f"cover_{name}"] >= 0.75
    assert full["ood_rate"] <= 0.1


def test_half_widths_come_from_each_band_sets_own_validation_residuals(calibrated):
    ds, _, model, _ = calibrated
    trust = model.trust
    val = ds.isel(target=model.split.validation)
    ts = val["TS"].values
    for s in (0, 3):  # the full band and 30-60 kHz
        proba, y = model.predict_arrays(np.where(trust.masks[s], ts, np.nan))
        res = y[:, 1] - val["a"].values
        kind = np.argmax(proba, axis=1)
        for k in (0, 1):
            sel = kind == k
            want = conformal_half_width(res[sel] if sel.sum() >= 50 else res, 0.9)
            assert trust.half_widths["a"][s, k] == pytest.approx(want)
    assert not np.allclose(trust.half_widths["a"][0], trust.half_widths["a"][3])


def test_noise_is_out_of_distribution_and_coverage_is_per_target(calibrated):
    ds, _, model, _ = calibrated
    sub = ds.isel(target=slice(0, 40)).copy(deep=True)
    rng = np.random.default_rng(5)
    ts = sub["TS"].values
    ts[20:] = rng.uniform(-100, -30, ts[20:].shape)  # pure noise spectra
    f = sub["frequency"].values
    ts[:10, f > 100e3] = np.nan
    out = model.predict(sub)
    ood = np.asarray(out["ood"].values, bool)
    assert ood[20:].all() and ood[:20].mean() < 0.5
    cover = np.asarray(out["coverage"].values)
    assert cover[:10] == pytest.approx((f <= 100e3).mean()) and (cover[10:] == 1.0).all()
    assert (out["a_low"].values <= out["a"].values).all()
    assert (out["a"].values <= out["a_high"].values).all()


def test_low_coverage_is_refused_unless_allowed(calibrated, tmp_path):
    from ts_toolkit.apply import predict_spectra, prediction_rows, write_predictions

    ds, _, model, _ = calibrated
    model.trust.min_coverage = 0.5
    try:
        sub = ds.isel(target=slice(0, 6)).drop_vars(["kind", "theta", "a", "b"]).copy(deep=True)
        f = sub["frequency"].values
        sub["TS"].values[:3, f > 60e3] = np.nan
        with pytest.raises(ModelMismatchError, match=r"3 of 6 targets .* minimum coverage 50 %"):
            predict_spectra(model, sub)
        result = predict_spectra(model, sub, allow_partial=True)
        assert np.asarray(result["pred_low_coverage"].values).tolist() == [1, 1, 1, 0, 0, 0]
        rows = prediction_rows(result)
        out = tmp_path / "p.csv"
        write_predictions(result, rows, out)
        read = list(csv.DictReader(out.open()))
        assert {"coverage", "ood", "ood_score", "a_low", "a_high", "low_coverage"} <= set(read[0])
        assert [r["low_coverage"] for r in read] == ["1", "1", "1", "0", "0", "0"]
        nc = write_predictions(result, rows, tmp_path / "p.nc")
        from ts_toolkit.spectra import read_spectra

        back = read_spectra(nc)
        assert np.asarray(back["pred_ood"].values).dtype == bool
        assert np.asarray(back["pred_low_coverage"].values).sum() == 3
    finally:
        model.trust.min_coverage = 0.0


def test_calibrate_and_evaluate_band_sets_on_the_command_line(calibrated, tmp_path):
    from ts_toolkit.spectra import write_spectra

    ds, model, _, _ = calibrated
    data = tmp_path / "d.nc"
    write_spectra(ds, data)
    raw = tmp_path / "raw.tsm"
    model_no_trust = type(model).load(calibrated[3])
    model_no_trust.trust = None
    model_no_trust.save(raw)
    cal = tmp_path / "cal.tsm"
    r = run_cli(
        "calibrate-model",
        raw,
        data,
        "--out",
        cal,
        "--band-sets",
        SETS,
        "--n-reference",
        100,
        "--r2-floor",
        0,
    )
    assert r.returncode == 0, r.stderr
    assert "minimum coverage" in r.stdout and cal.exists()
    r = run_cli(
        "evaluate",
        data,
        "--model",
        cal,
        "--band-sets",
        "10-260;30-60",
        "--out-dir",
        tmp_path / "ev",
    )
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "ev" / "band-sets.md").read_text()
    assert "| 30-60 |" in text and "90% int. a" in text and "OOD flagged" in text
    r = run_cli(
        "calibrate-model", raw, data, "--out", tmp_path / "c2.tsm", "--band-sets", "10-260;34"
    )
    assert r.returncode == 2 and "error:" in r.stderr and "34" in r.stderr


def test_time_schedule_decays_the_rate_over_the_budget():
    from ts_toolkit.learn import train_model

    ds = synthetic_spectra(120, 64, seed=3)
    # 6 s: several epochs even when other processes share the CPU (pytest -n 2)
    opts = {**FAST, "epochs": 500, "max_minutes": 0.1, "time_schedule": True}
    model = train_model(ds, "cnn", seed=0, **opts)
    lrs = [h["lr"] for h in model.training["history"]]
    assert model.training["stopped"].startswith("time limit")
    assert len(lrs) >= 3 and all(b <= a for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] < 0.5 * FAST["lr"]
