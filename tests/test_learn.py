"""Learning pipeline: split, standardisation, metrics, reports (model-agnostic parts)."""

from __future__ import annotations

import numpy as np
import pytest
from test_learn_synthetic import synthetic_spectra

from ts_toolkit.errors import ModelMismatchError, SpectraValidationError, TsToolkitError
from ts_toolkit.learn import (
    Evaluation,
    FeatureScaler,
    Split,
    TargetScaler,
    check_grid,
    comparison_csv,
    comparison_markdown,
    compute_metrics,
    count_peaks,
    dataset_fingerprint,
    evaluate_model,
    make_split,
    outlier_report,
    plot_true_vs_predicted,
    r2_score,
    rmse,
    split_dataset,
    train_model,
)


def test_split_is_disjoint_complete_reproducible_and_stratified():
    strata = np.array([0] * 300 + [1] * 100)
    s1 = make_split(400, seed=7, strata=strata)
    s2 = make_split(400, seed=7, strata=strata)
    s3 = make_split(400, seed=8, strata=strata)
    parts = [s1.train, s1.validation, s1.test]
    allidx = np.concatenate(parts)
    assert allidx.size == 400 and np.unique(allidx).size == 400
    assert [p.size for p in parts] == [320, 40, 40]
    for a, b in zip(parts, [s2.train, s2.validation, s2.test], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(s1.test, s3.test)
    # each stratum is split 80/10/10 on its own
    assert (strata[s1.test] == 1).sum() == 10
    assert (strata[s1.validation] == 0).sum() == 30
    back = Split.from_dict(s1.to_dict())
    np.testing.assert_array_equal(back.test, s1.test)
    assert back.seed == 7


def test_split_of_tiny_sets_keeps_every_subset_non_empty():
    s = make_split(5, seed=0)
    assert min(s.train.size, s.validation.size, s.test.size) >= 1
    with pytest.raises(TsToolkitError, match="at least 3 targets"):
        make_split(2, seed=0)


def test_split_dataset_stratifies_by_kind_and_fingerprints_the_data():
    ds = synthetic_spectra(200, 32)
    s = split_dataset(ds, seed=1)
    kinds = ds["kind"].values
    assert (kinds[s.test] == "gas").sum() == 10
    assert s.fingerprint == dataset_fingerprint(ds)
    other = synthetic_spectra(200, 32, seed=5)
    assert dataset_fingerprint(other) != s.fingerprint


def test_fingerprint_survives_last_bit_rounding_but_not_a_real_change():
    """A data set regenerated on another CPU differs in the last bit of some labels (Table I,
    2026-12-02: b); it is the same data set. A changed label is not."""
    from ts_toolkit.learn import fingerprint_matches
    from ts_toolkit.learn.data import legacy_fingerprint

    ds = synthetic_spectra(200, 32)
    fp = dataset_fingerprint(ds)
    assert fp.startswith("f32:") and len(fp) == 4 + 16
    regenerated = ds.copy(deep=True)
    b = regenerated["b"].values
    b[::3] = np.nextafter(b[::3], np.inf)  # one float64 ulp up on a third of the targets
    assert dataset_fingerprint(regenerated) == fp and fingerprint_matches(fp, regenerated)
    changed = ds.copy(deep=True)
    changed["b"].values[7] *= 1.0 + 1e-5
    assert dataset_fingerprint(changed) != fp and not fingerprint_matches(fp, changed)
    # a model saved before 2026-12-02 holds the exact float64 fingerprint, still honoured
    old = legacy_fingerprint(ds)
    assert fingerprint_matches(old, ds) and not fingerprint_matches(old, regenerated)
    assert fingerprint_matches("", changed)  # nothing recorded: nothing to check


def test_feature_scaler_is_nan_aware():
    ts = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, 2.0, 5.0, np.nan], [5.0, 4.0, 5.0, np.nan]])
    sc = FeatureScaler.fit(ts)
    np.testing.assert_allclose(sc.mean, [3.0, 3.0, 5.0, 0.0])
    np.testing.assert_allclose(sc.std, [np.std([1, 3, 5]), 1.0, 1.0, 1.0])  # constant -> 1
    z, mask = sc.transform(ts)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    np.testing.assert_array_equal(mask, np.isfinite(ts))
    assert z[0, 1] == 0.0 and z[0, 3] == 0.0
    np.testing.assert_allclose(z[:, 0], (ts[:, 0] - 3.0) / np.std([1, 3, 5]), rtol=1e-6)
    back = FeatureScaler.from_dict(sc.to_dict())
    np.testing.assert_array_equal(back.mean, sc.mean)


def test_target_scaler_round_trip_and_clips_to_training_range():
    y = np.array([[0.0, 0.01, 0.002], [90.0, 0.02, 0.004], [45.0, 0.015, 0.003]])
    sc = TargetScaler.fit(y)
    np.testing.assert_allclose(sc.inverse(sc.transform(y)), y, rtol=1e-6)
    far = sc.inverse(np.array([[10.0, -10.0, 0.0]]))
    np.testing.assert_allclose(far[0], [90.0, 0.01, 0.003], rtol=1e-6)
    assert TargetScaler.from_dict(sc.to_dict()).names == ("theta", "a", "b")


def test_standardisation_uses_training_statistics_only():
    ds = synthetic_spectra(300, 40)
    model = train_model(ds, "knn", seed=3)
    split = model.split
    train_ts = ds["TS"].values[split.train]
    np.testing.assert_allclose(model.features.mean, train_ts.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(model.features.std, train_ts.std(axis=0), rtol=1e-10)
    np.testing.assert_allclose(model.targets.mean[0], ds["theta"].values[split.train].mean())
    # corrupting validation and test spectra does not change the statistics
    bad = ds.copy(deep=True)
    held_out = np.concatenate([split.validation, split.test])
    bad["TS"].values[held_out] += 40.0
    again = train_model(bad, "knn", seed=3)
    np.testing.assert_array_equal(again.features.mean, model.features.mean)
    np.testing.assert_array_equal(again.targets.std, model.targets.std)


def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, mean_squared_error
    from sklearn.metrics import r2_score as sk_r2

    rng = np.random.default_rng(0)
    t = rng.normal(size=50)
    p = t + rng.normal(scale=0.3, size=50)
    assert r2_score(t, p) == pytest.approx(sk_r2(t, p), rel=1e-12)
    assert rmse(t, p) == pytest.approx(np.sqrt(mean_squared_error(t, p)), rel=1e-12)
    truth = {
        "kind": np.array([0, 1, 1, 0]),
        "theta": np.array([10.0, 20, 30, 40]),
        "a": np.array([0.01, 0.02, 0.03, 0.04]),
        "b": np.array([0.005, 0.01, 0.01, 0.02]),
    }
    truth["alpha"] = truth["a"] / truth["b"]
    pred = {
        "kind": np.array([0, 1, 0, 0]),
        "theta": np.array([12.0, 18, 33, 40]),
        "a": np.array([0.011, 0.02, 0.028, 0.04]),
        "b": np.array([0.005, 0.011, 0.01, 0.02]),
    }
    pred["alpha"] = pred["a"] / pred["b"]
    m = compute_metrics(truth, pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(truth["kind"], pred["kind"])) == 0.75
    assert m["r2_theta"] == pytest.approx(sk_r2(truth["theta"], pred["theta"]))
    assert m["r2_alpha"] == pytest.approx(sk_r2(truth["alpha"], pred["alpha"]))
    assert m["rmse_a_mm"] == pytest.approx(1e3 * np.sqrt(mean_squared_error(truth["a"], pred["a"])))
    assert m["rmse_theta_deg"] == pytest.approx(np.sqrt((4 + 4 + 9) / 4))
    expected = np.mean([0.75, m["r2_theta"], m["r2_a"], m["r2_b"]])
    assert m["composite"] == pytest.approx(expected)


def test_r2_of_constant_truth():
    assert r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0


def test_grid_mismatch_names_both_grids():
    f1 = np.linspace(10e3, 260e3, 501)
    check_grid(f1, f1.copy())
    with pytest.raises(ModelMismatchError) as info:
        check_grid(f1, np.linspace(38e3, 200e3, 100), "x.nc")
    msg = str(info.value)
    assert "10.0–260.0 kHz, 501 frequencies" in msg
    assert "38.0–200.0 kHz, 100 frequencies" in msg and "x.nc" in msg


def test_training_refuses_unlabelled_or_all_nan_data():
    ds = synthetic_spectra(60, 16)
    nan = ds.copy(deep=True)
    nan["TS"].values[:] = np.nan
    with pytest.raises(SpectraValidationError, match="every TS value is NaN"):
        train_model(nan, "knn")
    with pytest.raises(SpectraValidationError, match="'theta' is missing"):
        train_model(ds.drop_vars("theta"), "knn")
    with pytest.raises(TsToolkitError, match="does not take option"):
        train_model(ds, "knn", epochs=3)


def _evaluation() -> tuple[Evaluation, object]:
    ds = synthetic_spectra(300, 40)
    model = train_model(ds, "knn", seed=0)
    return evaluate_model(model, ds, label="knn-test"), model


def test_evaluation_uses_the_saved_test_split_and_refuses_other_data():
    ds = synthetic_spectra(300, 40)
    res, model = _evaluation()
    np.testing.assert_array_equal(res.indices, model.split.test)
    assert res.metrics["accuracy"] > 0.8
    other = synthetic_spectra(300, 40, seed=9)
    with pytest.raises(ModelMismatchError, match="another data set"):
        evaluate_model(model, other)
    everything = evaluate_model(model, other, use_split=False)
    assert everything.indices.size == 300
    noisy = evaluate_model(model, ds, noise_db=3.0)
    assert noisy.metrics["r2_b"] < res.metrics["r2_b"]
    assert "3 dB Gaussian noise" in noisy.note


def test_reports(tmp_path):
    res, _ = _evaluation()
    md = comparison_markdown([res, res], {"training time (s)": ["1.0", "2.0"]})
    lines = md.splitlines()
    assert lines[0] == "| metric | knn-test | knn-test |"
    assert any(line.startswith("| R² θ | ") for line in lines)
    assert f"| accuracy | {res.metrics['accuracy']:.3f}" in md
    csv = comparison_csv([res]).splitlines()
    assert csv[0] == "metric,knn-test" and len(csv) == 11
    assert float(dict(r.split(",") for r in csv[1:])["composite"]) == pytest.approx(
        res.metrics["composite"]
    )
    png = plot_true_vs_predicted([res], tmp_path / "fig.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = outlier_report(res, 4)
    rows = [
        line
        for line in report.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    ]
    assert len(rows) == 4
    assert "kind = gas" in report and "peaks" in report
    # each target's squared error is shared out over the kinds (and over the θ thirds)
    for first in ("| kind = ", "| θ in ["):
        shares = [
            [float(v) for v in line.split("|")[5].strip(" %").split(" / ")]
            for line in report.splitlines()
            if line.startswith(first)
        ]
        assert np.allclose(np.sum(shares, axis=0), 100, atol=len(shares))
    d_a = (res.pred["a"] - res.truth["a"]) ** 2
    gas_line = next(line for line in report.splitlines() if line.startswith("| kind = gas"))
    gas_a = float(gas_line.split("|")[5].strip(" %").split(" / ")[1])
    assert gas_a == pytest.approx(100 * d_a[res.truth["kind"] == 0].sum() / d_a.sum(), abs=0.5)


def test_peak_bins_cover_every_count_once():
    from ts_toolkit.learn import peak_bins

    peaks = np.array([0, 1, 1, 2, 3, 5, 8, 8, 9, 12])
    bins = peak_bins(peaks)
    assert len(bins) == 3
    counts = [((peaks >= lo) & (peaks <= hi)).sum() for lo, hi in bins]
    assert bins == [(0, 2), (3, 8), (9, 12)] and counts == [4, 4, 2]
    assert peak_bins(np.array([4, 4, 4])) == [(4, 4)]


def test_count_peaks():
    f = np.linspace(0, 1, 200)
    ts = np.stack([10 * np.sin(2 * np.pi * 3 * f), np.zeros(200)])
    ts[0, 50:60] = np.nan
    assert count_peaks(ts).tolist() == [3, 0]


def test_outlier_shares_by_angle_with_an_unpredicted_target():
    from ts_toolkit.learn.evaluation import Evaluation

    theta = np.array([0.0, 10, 30, 45, 60, 75, 90, 90])
    a = np.arange(1.0, 9.0) * 1e-3
    b = a / 2
    truth = {
        "kind": np.tile([0, 1], 4),
        "theta": theta,
        "a": a,
        "b": b,
        "Req": (a * b * b) ** (1 / 3),
        "alpha": a / b,
    }
    err_a = np.array([1.0, 0, 2, 0, 0, 3, 1, 0]) * 1e-3
    pred = {k: v.copy() for k, v in truth.items()}
    pred["a"] = a + err_a
    pred["theta"] = theta + np.array([4.0, 0, 0, 0, 0, 0, 2, 0])
    pred["probability"] = np.full(8, 0.9)
    for key in ("theta", "a", "b", "alpha", "Req"):
        pred[key][7] = np.nan  # an all-NaN spectrum gets no prediction
    res = Evaluation("m", "m", np.arange(8), truth, pred, {})
    lines = outlier_report(res, 2).splitlines()

    def shares(prefix):
        line = next(x for x in lines if x.startswith(prefix))
        cells = line.split("|")
        return cells[2].strip(), [c.strip() for c in cells[5].strip(" %").split(" / ")]

    # θ = 90 falls in the last third; a's squared errors 1, 4, 9, 1 (mm²) of 15 in all
    assert shares("| θ in [0, 30) deg") == ("25.0%", ["80", "7", "–"])
    assert shares("| θ in [30, 60) deg") == ("25.0%", ["0", "27", "–"])
    assert shares("| θ in [60, 90] deg") == ("50.0%", ["20", "67", "–"])
    assert "1 target(s) without a finite prediction are left out of the shares." in lines
