"""KNN, SVM and RF learners: registration, learning the synthetic data, options, NaN bands."""

from __future__ import annotations

import numpy as np
import pytest
from test_learn_synthetic import synthetic_spectra

from ts_toolkit.learn import evaluate_model, train_model
from ts_toolkit.modelfile import load_model
from ts_toolkit.plugins import get_classifier, get_classifier_class

# Lower bounds measured with a margin: seed 1, 600 targets x 64 frequencies, 60 test targets
# (knn: acc .98, R² θ .78 a .77 b .78; svm: .98, .72 .72 .71; rf: 1.0, .76 .75 .82).
EXPECTED = {
    "knn": (0.9, 0.6, 0.6, 0.6),
    "svm": (0.9, 0.55, 0.55, 0.55),
    "rf": (0.9, 0.6, 0.6, 0.65),
}


def test_registered_names_and_defaults():
    assert get_classifier_class("knn").__name__ == "KNNLearner"
    knn = get_classifier("knn")
    assert knn.settings["k"] == 5 and knn.settings["weights"] == "distance"
    svm = get_classifier("svm")
    assert (svm.settings["C"], svm.settings["gamma"]) == (1.0, "scale")
    rf = get_classifier("rf", n_estimators=10, n_jobs=2)
    assert rf._make_regressor().n_jobs == 2 and rf._make_regressor().n_estimators == 10
    assert rf._make_classifier().max_features == "sqrt"
    assert get_classifier("knn", n_jobs=2)._make_classifier().n_jobs == 2


@pytest.mark.parametrize("name", ["knn", "svm", "rf"])
def test_learns_synthetic_spectra(name, tmp_path):
    ds = synthetic_spectra(600, 64)
    options = {"n_estimators": 100, "n_jobs": 2} if name == "rf" else {}
    model = train_model(ds, name, seed=1, **options)
    res = evaluate_model(model, ds)
    acc, r2t, r2a, r2b = EXPECTED[name]
    m = res.metrics
    assert m["accuracy"] >= acc, m
    assert m["r2_theta"] >= r2t and m["r2_a"] >= r2a and m["r2_b"] >= r2b, m
    assert model.training["n_train"] == 480 and "validation" in model.training
    # save/load round trip predicts identically
    path = tmp_path / f"{name}.tsm"
    model.save(path)
    loaded = load_model(path)
    test = ds.isel(target=model.split.test)
    p1, p2 = model.predict(test), loaded.predict(test)
    for var in ("theta", "a", "b", "probability"):
        # a parallel RF sums its trees in thread order: equal to rounding, not bit for bit
        np.testing.assert_allclose(p1[var].values, p2[var].values, rtol=1e-12, atol=0)
    assert (p1["kind"].values == p2["kind"].values).all()


def test_svm_parallel_fit_gives_the_same_model():
    ds = synthetic_spectra(200, 32)
    one = train_model(ds, "svm", seed=0)
    two = train_model(ds, "svm", seed=0, n_jobs=2)
    np.testing.assert_allclose(one.predict(ds)["theta"], two.predict(ds)["theta"])


def test_nan_bands_are_masked():
    ds = synthetic_spectra(400, 64).copy(deep=True)
    f = ds["frequency"].values
    ts = ds["TS"].values
    ts[:, (f > 100e3) & (f < 150e3)] = np.nan  # a band never measured
    rng = np.random.default_rng(0)
    ts[rng.random(ts.shape) < 0.1] = np.nan  # and scattered gaps per target
    model = train_model(ds, "knn", seed=0)
    assert model.features.std[(f > 100e3) & (f < 150e3)].tolist() == [1.0] * int(
        ((f > 100e3) & (f < 150e3)).sum()
    )
    res = evaluate_model(model, ds)
    assert np.isfinite(res.pred["theta"]).all()
    assert res.metrics["accuracy"] > 0.85 and res.metrics["r2_b"] > 0.5


def test_learners_follow_the_classifier_protocol_and_register_lazily():
    import subprocess
    import sys

    from ts_toolkit.interfaces import Classifier

    for name in ("knn", "svm", "rf", "cnn"):
        assert isinstance(get_classifier(name), Classifier), name
    code = (
        "import sys, ts_toolkit_plugins.classic as c;"
        "print(sorted(m for m in ('sklearn', 'skops', 'torch') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
