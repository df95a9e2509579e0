"""The model file (*.tsm): round trip, metadata, grid checks, and refusal of unsafe content."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_learn_synthetic import entry_point_plugins, synthetic_spectra

from ts_toolkit.errors import InputFileError, ModelMismatchError
from ts_toolkit.learn import train_model
from ts_toolkit.modelfile import FORMAT, load_model, read_metadata, save_model

TRIGGERED: list[str] = []


class Evil:
    """Unpickling or reconstructing this records that code ran."""

    def __reduce__(self):
        return (TRIGGERED.append, ("pwned",))


@pytest.fixture(scope="module")
def knn_file(tmp_path_factory) -> Path:
    ds = synthetic_spectra(200, 24)
    with entry_point_plugins():
        model = train_model(ds, "knn", seed=2)
    path = tmp_path_factory.mktemp("models") / "knn.tsm"
    save_model(model, path)
    return path


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], fix_checksums: bool = True) -> Path:
    """Copy a model file, replacing members (and updating the checksums in metadata)."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members.update(replace)
    meta = json.loads(members["metadata.json"])
    if fix_checksums:
        meta["weights"] = {
            n[len("weights/") :]: hashlib.sha256(d).hexdigest()
            for n, d in members.items()
            if n.startswith("weights/")
        }
        members["metadata.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return dst


def test_round_trip_predicts_identically_and_records_everything(knn_file):
    ds = synthetic_spectra(200, 24)
    model = load_model(knn_file)
    assert model.name == "knn"
    np.testing.assert_array_equal(model.frequency, ds["frequency"].values)
    fresh = train_model(ds, "knn", seed=2)
    a, b = fresh.predict(ds), model.predict(ds)
    for var in ("theta", "a", "b", "Req", "alpha", "probability"):
        np.testing.assert_array_equal(a[var].values, b[var].values)
    assert (a["kind"].values == b["kind"].values).all()
    np.testing.assert_array_equal(model.split.test, fresh.split.test)
    meta = read_metadata(knn_file)
    assert meta["format"] == FORMAT and meta["plugin"] == "knn"
    assert len(meta["frequency_hz"]) == 24
    assert len(meta["features"]["mean_db"]) == 24
    assert meta["target_names"] == ["theta", "a", "b"] and meta["kinds"] == ["gas", "liquid"]
    assert meta["split"]["seed"] == 2 and len(meta["split"]["train"]) == 160
    assert {"numpy", "scikit-learn", "skops", "ts-toolkit"} <= set(meta["versions"])
    assert meta["settings"] == {"k": 5, "weights": "distance", "seed": 2}  # n_jobs is runtime


def test_predict_output_schema(knn_file):
    model = load_model(knn_file)
    out = model.predict(synthetic_spectra(200, 24).isel(target=slice(0, 7)))
    assert out.sizes["target"] == 7
    assert set(out.data_vars) == {"kind", "probability", "theta", "a", "b", "Req", "alpha"}
    assert set(out["kind"].values) <= {"gas", "liquid"}
    assert ((out["probability"] >= 0.5) & (out["probability"] <= 1)).all()
    assert out["theta"].attrs["units"] == "degree" and out["a"].attrs["units"] == "m"
    np.testing.assert_allclose(out["alpha"], out["a"] / out["b"])
    np.testing.assert_allclose(out["Req"], np.cbrt(out["a"] * out["b"] ** 2))


def test_predict_on_another_grid_is_a_clear_error(knn_file):
    model = load_model(knn_file)
    other = synthetic_spectra(20, 30, f_min=38e3, f_max=200e3)
    with pytest.raises(
        ModelMismatchError,
        match=r"38\.0–200\.0 kHz, 30 frequencies.*"
        r"10\.0–260\.0 kHz, 24 frequencies",
    ):
        model.predict(other)


def test_all_nan_targets_predict_unknown(knn_file):
    model = load_model(knn_file)
    ds = synthetic_spectra(200, 24).isel(target=slice(0, 4)).copy(deep=True)
    ds["TS"].values[1] = np.nan
    ds["TS"].values[2, :10] = np.nan
    out = model.predict(ds)
    assert out["kind"].values.tolist()[1] == "unknown"
    assert np.isnan(out["theta"].values[1]) and np.isfinite(out["theta"].values[[0, 2, 3]]).all()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "model file not found"),
        (b"not a zip", "not a zip archive"),
    ],
)
def test_missing_or_non_zip_file(tmp_path, content, message):
    path = tmp_path / "m.tsm"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        load_model(path)


def test_zip_without_metadata_or_bad_json(tmp_path):
    p = tmp_path / "empty.tsm"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("x.txt", "hi")
    with pytest.raises(InputFileError, match="no metadata.json"):
        load_model(p)
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("metadata.json", "{oops")
    with pytest.raises(InputFileError, match="not JSON"):
        load_model(p)


def test_modified_weights_fail_the_checksum(knn_file, tmp_path):
    bad = _rewrite(
        knn_file, tmp_path / "bad.tsm", {"weights/classifier.skops": b"junk"}, fix_checksums=False
    )
    with pytest.raises(InputFileError, match="was modified"):
        load_model(bad)


def test_pickled_weights_are_never_unpickled(knn_file, tmp_path):
    payload = pickle.dumps(Evil())
    bad = _rewrite(knn_file, tmp_path / "evil.tsm", {"weights/classifier.skops": payload})
    TRIGGERED.clear()
    with pytest.raises(InputFileError, match="not a valid skops file"):
        load_model(bad)
    assert TRIGGERED == []


def test_skops_file_with_untrusted_type_is_refused(knn_file, tmp_path):
    import skops.io as sio

    payload = sio.dumps({"x": Evil()})
    bad = _rewrite(knn_file, tmp_path / "untrusted.tsm", {"weights/classifier.skops": payload})
    TRIGGERED.clear()
    with pytest.raises(InputFileError, match="untrusted types"):
        load_model(bad)
    assert TRIGGERED == []


def test_unknown_plugin_and_wrong_class(knn_file, tmp_path):
    from ts_toolkit.errors import PluginNotFoundError
    from ts_toolkit_plugins.classic import RFLearner

    with zipfile.ZipFile(knn_file) as zf:
        meta = json.loads(zf.read("metadata.json"))
    meta["plugin"] = "nope"
    bad = _rewrite(knn_file, tmp_path / "nope.tsm", {"metadata.json": json.dumps(meta).encode()})
    with pytest.raises(PluginNotFoundError, match="unknown classifier 'nope'"):
        load_model(bad)
    with pytest.raises(ModelMismatchError, match="holds a 'knn' model"):
        RFLearner.load(knn_file)


def test_unwritable_destination_is_a_clear_error(knn_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="cannot write model file"):
        save_model(load_model(knn_file), blocker / "sub" / "m.tsm")
