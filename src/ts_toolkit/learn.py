"""Model-agnostic learning pipeline: split, standardisation, the learner base class, metrics.

Everything here is independent of the learning library (torch, scikit-learn): a plugin
subclasses :class:`SpectraLearner` and implements four small hooks (``_fit``,
``_predict``, ``_export_weights``, ``_import_weights``); the base class does the rest —
checking the data, per-frequency standardisation with training statistics, target
standardisation, building the prediction Dataset, the frequency-grid check, and
``save``/``load`` through :mod:`ts_toolkit.modelfile`.

Units: frequency in Hz, TS in dB re 1 m², ``a``/``b``/``Req`` in metres and ``theta`` in
degrees everywhere in code; reports show ``a``/``b`` RMSE in mm and frequencies in kHz.

Only numpy is imported at module level (``ts-toolkit plugins`` imports this module through
the learner plugins and must stay fast); xarray, scipy and matplotlib are imported where
used.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .errors import ModelMismatchError, SpectraValidationError, TsToolkitError

if TYPE_CHECKING:
    import xarray as xr

#: Regression targets, in the order of every target array (theta in deg, a and b in m).
TARGET_NAMES: tuple[str, ...] = ("theta", "a", "b")
#: Target kinds, in the order of every class-probability array.
KINDS: tuple[str, ...] = ("gas", "liquid")
#: Train / validation / test fractions of the seeded split.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


# --------------------------------------------------------------------------------------
# Data checks and arrays
# --------------------------------------------------------------------------------------


def grid_summary(frequency: np.ndarray) -> str:
    """``"10.0–260.0 kHz, 501 frequencies"`` for a frequency grid in Hz."""
    f = np.asarray(frequency, dtype=float)
    if f.size == 0:
        return "empty grid"
    return f"{f[0] / 1e3:.1f}–{f[-1] / 1e3:.1f} kHz, {f.size} frequencies"


def check_grid(
    model_frequency: np.ndarray, data_frequency: np.ndarray, origin: str = "data"
) -> None:
    """Raise :class:`ModelMismatchError` unless both grids (Hz) are the same (to 1 mHz)."""
    m = np.asarray(model_frequency, dtype=float)
    d = np.asarray(data_frequency, dtype=float)
    if m.shape == d.shape and np.allclose(m, d, rtol=0.0, atol=1e-3):
        return
    raise ModelMismatchError(
        f"frequency grid of {origin} ({grid_summary(d)}) does not match the model's grid "
        f"({grid_summary(m)}); resample the spectra onto the model grid or train a model "
        f"on this grid"
    )


def ts_array(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """TS (dB re 1 m²) as float64 (target, frequency); raise if no value is finite."""
    ts = np.asarray(ds["TS"].transpose("target", "frequency").values, dtype=np.float64)
    if ts.size == 0:
        raise SpectraValidationError(f"{origin}: contains no targets")
    if not np.isfinite(ts).any():
        raise SpectraValidationError(f"{origin}: every TS value is NaN (no measured spectra)")
    return ts


def kind_index(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """Kind as class indices into :data:`KINDS` (int64); raise on a missing/unknown kind."""
    if "kind" not in ds.data_vars:
        raise SpectraValidationError(
            f"{origin}: variable 'kind' is missing (need labelled, simulated spectra)"
        )
    kinds = np.asarray(ds["kind"].values).astype(str)
    out = np.full(kinds.shape, -1, dtype=np.int64)
    for i, k in enumerate(KINDS):
        out[kinds == k] = i
    if (out < 0).any():
        bad = sorted(set(kinds[out < 0].tolist()))
        raise SpectraValidationError(
            f"{origin}: variable 'kind' has unlabelled values {bad}; expected {list(KINDS)}"
        )
    return out


def target_array(ds: xr.Dataset, origin: str = "spectra") -> np.ndarray:
    """(theta [deg], a [m], b [m]) as float64 (target, 3); raise if missing or not finite."""
    cols = []
    for name in TARGET_NAMES:
        if name not in ds.data_vars:
            raise SpectraValidationError(
                f"{origin}: variable {name!r} is missing (need labelled, simulated spectra)"
            )
        v = np.asarray(ds[name].values, dtype=np.float64)
        if not np.isfinite(v).all():
            raise SpectraValidationError(f"{origin}: variable {name!r} has non-finite values")
        cols.append(v)
    return np.stack(cols, axis=1)


def truth_of(ds: xr.Dataset, origin: str = "spectra") -> dict[str, np.ndarray]:
    """Known values per target: kind (index), theta (deg), a, b, Req (m), alpha."""
    y = target_array(ds, origin)
    a, b = y[:, 1], y[:, 2]
    alpha = np.asarray(ds["alpha"].values, dtype=float) if "alpha" in ds.data_vars else a / b
    req = np.asarray(ds["Req"].values, dtype=float) if "Req" in ds.data_vars else np.cbrt(a * b * b)
    return {
        "kind": kind_index(ds, origin),
        "theta": y[:, 0],
        "a": a,
        "b": b,
        "alpha": alpha,
        "Req": req,
    }


def dataset_fingerprint(ds: xr.Dataset) -> str:
    """A short hash of the frequency grid and the per-target labels (identifies a data set
    cheaply, so that a saved split is only reused on the data it was drawn from)."""
    h = hashlib.sha256()
    h.update(np.asarray(ds["frequency"].values, dtype=np.float64).tobytes())
    h.update(str(ds.sizes["target"]).encode())
    for name in TARGET_NAMES:
        if name in ds.data_vars:
            h.update(np.asarray(ds[name].values, dtype=np.float64).tobytes())
    if "kind" in ds.data_vars:
        h.update("|".join(np.asarray(ds["kind"].values).astype(str).tolist()).encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Split
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Positional indices (along ``target``) of the train / validation / test subsets."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int
    n_targets: int
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.tolist(),
            "validation": self.validation.tolist(),
            "test": self.test.tolist(),
            "seed": self.seed,
            "n_targets": self.n_targets,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Split:
        return cls(
            *(np.asarray(d[k], dtype=np.int64) for k in ("train", "validation", "test")),
            seed=int(d["seed"]),
            n_targets=int(d["n_targets"]),
            fingerprint=str(d.get("fingerprint", "")),
        )


def make_split(
    n_targets: int,
    seed: int,
    strata: np.ndarray | None = None,
    fractions: Sequence[float] = SPLIT_FRACTIONS,
    fingerprint: str = "",
) -> Split:
    """A seeded train/validation/test split of ``n_targets`` items (sorted index arrays).

    With ``strata`` (one label per item, e.g. kind) each stratum is split in the same
    proportions. Each subset gets at least one item per stratum when the stratum has ≥ 3.
    """
    if n_targets < 3:
        raise TsToolkitError(
            f"need at least 3 targets to split into train/validation/test, got {n_targets}"
        )
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f <= 0).any():
        raise TsToolkitError(f"split fractions must be three positive numbers, got {fractions}")
    f = f / f.sum()
    rng = np.random.default_rng(seed)
    labels = np.zeros(n_targets, dtype=np.int64) if strata is None else np.asarray(strata)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n = idx.size
        n_val = int(round(n * f[1]))
        n_test = int(round(n * f[2]))
        if n >= 3:
            n_val, n_test = max(n_val, 1), max(n_test, 1)
        n_train = n - n_val - n_test
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return Split(
        train, val, test, seed=int(seed), n_targets=int(n_targets), fingerprint=fingerprint
    )


def split_dataset(ds: xr.Dataset, seed: int) -> Split:
    """The seeded 80/10/10 split of a labelled spectra Dataset, stratified by kind."""
    return make_split(
        ds.sizes["target"], seed, strata=kind_index(ds), fingerprint=dataset_fingerprint(ds)
    )


# --------------------------------------------------------------------------------------
# Standardisation
# --------------------------------------------------------------------------------------


@dataclass
class FeatureScaler:
    """Per-frequency z-score of TS (dB) with training statistics, NaN-aware.

    ``mean``/``std`` (dB) are computed over the finite training values of each frequency;
    a frequency never measured in training gets mean 0 and std 1 (it is always masked).
    ``transform`` returns the z-scores with NaN replaced by 0 (the training mean) and a
    mask that is 1 where TS was measured and 0 where it was NaN.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, ts: np.ndarray) -> FeatureScaler:
        ts = np.asarray(ts, dtype=np.float64)
        finite = np.isfinite(ts)
        count = finite.sum(axis=0)
        filled = np.where(finite, ts, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.zeros(ts.shape[1]), where=count > 0)
        dev = np.where(finite, ts - mean, 0.0)
        var = np.divide((dev * dev).sum(axis=0), count, out=np.ones(ts.shape[1]), where=count > 0)
        std = np.sqrt(var)
        std[(count < 2) | ~(std > 1e-12)] = 1.0
        return cls(mean=mean, std=std)

    def transform(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z-scores, mask), both float32 (target, frequency)."""
        ts = np.asarray(ts, dtype=np.float64)
        mask = np.isfinite(ts)
        z = np.where(mask, (ts - self.mean) / self.std, 0.0)
        return z.astype(np.float32), mask.astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean_db": self.mean.tolist(), "std_db": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureScaler:
        return cls(
            mean=np.asarray(d["mean_db"], dtype=np.float64),
            std=np.asarray(d["std_db"], dtype=np.float64),
        )


@dataclass
class TargetScaler:
    """Z-score of the regression targets (theta deg, a m, b m) with training statistics.

    ``inverse`` clips to the training range [minimum, maximum] of each target: a learner
    is not trusted to extrapolate beyond what it was shown.
    """

    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    names: tuple[str, ...] = TARGET_NAMES

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScaler:
        y = np.asarray(y, dtype=np.float64)
        std = y.std(axis=0)
        std[~(std > 0)] = 1.0
        return cls(mean=y.mean(axis=0), std=std, minimum=y.min(axis=0), maximum=y.max(axis=0))

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray, clip: bool = True) -> np.ndarray:
        y = np.asarray(z, dtype=np.float64) * self.std + self.mean
        return np.clip(y, self.minimum, self.maximum) if clip else y

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "minimum": self.minimum.tolist(),
            "maximum": self.maximum.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetScaler:
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "minimum", "maximum")}
        return cls(names=tuple(d["names"]), **arr)


@dataclass
class LearnArrays:
    """What a learner's ``_fit`` sees: standardised inputs and labels.

    ``x``: z-scored TS, float32 (n, n_freq), 0 where not measured; ``mask``: 1 where
    measured; ``kind``: class index into :data:`KINDS`; ``y``: z-scored targets (n, 3) in
    :data:`TARGET_NAMES` order.
    """

    x: np.ndarray
    mask: np.ndarray
    kind: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res/SS_tot (as scikit-learn's ``r2_score``)."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root-mean-square error, in the units of the inputs."""
    d = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def composite_score(acc: float, r2_theta: float, r2_a: float, r2_b: float) -> float:
    """mean(accuracy, R²θ, R²a, R²b): the model-selection score."""
    return float(np.mean([acc, r2_theta, r2_a, r2_b]))


#: Metric keys with their table labels, in table order.
METRIC_LABELS: dict[str, str] = {
    "r2_theta": "R² θ",
    "r2_a": "R² a",
    "r2_b": "R² b",
    "r2_alpha": "R² α",
    "accuracy": "accuracy",
    "composite": "composite",
    "rmse_theta_deg": "RMSE θ (deg)",
    "rmse_a_mm": "RMSE a (mm)",
    "rmse_b_mm": "RMSE b (mm)",
    "rmse_alpha": "RMSE α",
}


def compute_metrics(
    truth: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """All metrics of :data:`METRIC_LABELS` from truth/prediction arrays.

    ``truth``/``pred`` hold ``kind`` (class index), ``theta`` (deg), ``a``, ``b`` (m) and
    ``alpha``. RMSE of a and b is reported in mm.
    """
    out = {
        "accuracy": accuracy(truth["kind"], pred["kind"]),
        "r2_theta": r2_score(truth["theta"], pred["theta"]),
        "r2_a": r2_score(truth["a"], pred["a"]),
        "r2_b": r2_score(truth["b"], pred["b"]),
        "r2_alpha": r2_score(truth["alpha"], pred["alpha"]),
        "rmse_theta_deg": rmse(truth["theta"], pred["theta"]),
        "rmse_a_mm": 1e3 * rmse(truth["a"], pred["a"]),
        "rmse_b_mm": 1e3 * rmse(truth["b"], pred["b"]),
        "rmse_alpha": rmse(truth["alpha"], pred["alpha"]),
    }
    out["composite"] = composite_score(out["accuracy"], out["r2_theta"], out["r2_a"], out["r2_b"])
    return {k: out[k] for k in METRIC_LABELS}


def metrics_from_arrays(
    kind_true: np.ndarray, y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Metrics from class probabilities and (theta, a, b) arrays in physical units."""
    truth = {
        "kind": kind_true,
        "theta": y_true[:, 0],
        "a": y_true[:, 1],
        "b": y_true[:, 2],
        "alpha": y_true[:, 1] / y_true[:, 2],
    }
    pred = {
        "kind": np.argmax(proba, axis=1),
        "theta": y_pred[:, 0],
        "a": y_pred[:, 1],
        "b": y_pred[:, 2],
        "alpha": y_pred[:, 1] / y_pred[:, 2],
    }
    return compute_metrics(truth, pred)


# --------------------------------------------------------------------------------------
# The learner base class
# --------------------------------------------------------------------------------------


class SpectraLearner:
    """Base class of the built-in Classifier plugins (see the module docstring).

    Subclasses pass their constructor options to ``super().__init__(**settings)``; options
    named in :attr:`runtime_options` (threads, device, progress display) are not saved in
    the model file, the rest are and are passed back to the constructor by :meth:`load`.
    """

    name: ClassVar[str] = ""
    runtime_options: ClassVar[tuple[str, ...]] = ("n_jobs", "device", "progress")

    def __init__(self, **settings: Any) -> None:
        self.settings: dict[str, Any] = dict(settings)
        self.frequency: np.ndarray | None = None
        self.features: FeatureScaler | None = None
        self.targets: TargetScaler | None = None
        self.split: Split | None = None
        self.training: dict[str, Any] = {}

    # -- hooks a plugin implements -----------------------------------------------------
    def _fit(self, train: LearnArrays, validation: LearnArrays | None) -> dict[str, Any]:
        """Fit on standardised arrays; return JSON-able training details (or {})."""
        raise NotImplementedError

    def _predict(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, len(KINDS)) and z-scored targets (n, 3)."""
        raise NotImplementedError

    def _export_weights(self) -> dict[str, bytes]:
        """The fitted state as named byte blobs (stored in the model file)."""
        raise NotImplementedError

    def _import_weights(self, files: Mapping[str, bytes]) -> None:
        """Restore the fitted state from :meth:`_export_weights`'s blobs, safely."""
        raise NotImplementedError

    # -- public API -----------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self.frequency is not None and self.features is not None

    def saved_settings(self) -> dict[str, Any]:
        """Constructor options stored in the model file."""
        return {k: v for k, v in self.settings.items() if k not in self.runtime_options}

    def arrays(self, ds: xr.Dataset, origin: str) -> LearnArrays:
        """Standardised arrays of a labelled Dataset (targets with no finite TS dropped)."""
        assert self.features is not None and self.targets is not None
        ts = ts_array(ds, origin)
        keep = np.isfinite(ts).any(axis=1)
        x, mask = self.features.transform(ts[keep])
        return LearnArrays(
            x,
            mask,
            kind_index(ds, origin)[keep],
            self.targets.transform(target_array(ds, origin)[keep]),
        )

    def fit(self, train: xr.Dataset, validation: xr.Dataset | None = None) -> SpectraLearner:
        """Fit on a labelled spectra Dataset (validation optional, same grid).

        Targets whose TS is NaN at every frequency are left out. Returns ``self``.
        """
        ts = ts_array(train, "training data")
        keep = np.isfinite(ts).any(axis=1)
        kinds = kind_index(train, "training data")[keep]
        missing = [k for i, k in enumerate(KINDS) if not (kinds == i).any()]
        if missing:
            raise SpectraValidationError(
                f"training data has no {' or '.join(missing)} targets; both kinds are needed"
            )
        if keep.sum() < 2:
            raise SpectraValidationError("training data needs at least 2 measured spectra")
        self.frequency = np.asarray(train["frequency"].values, dtype=np.float64)
        self.features = FeatureScaler.fit(ts[keep])
        self.targets = TargetScaler.fit(target_array(train, "training data")[keep])
        tr = self.arrays(train, "training data")
        va = None
        if validation is not None:
            check_grid(self.frequency, validation["frequency"].values, "validation data")
            va = self.arrays(validation, "validation data")
        t0 = time.perf_counter()
        details = self._fit(tr, va)
        self.training = {
            "n_train": len(tr),
            "n_validation": len(va) if va else 0,
            "dropped_all_nan": int((~keep).sum()),
            "fit_seconds": round(time.perf_counter() - t0, 3),
            **(details or {}),
        }
        return self

    def predict_arrays(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, 2) and (theta deg, a m, b m) (n, 3) from a TS array on
        the model grid; rows with no finite TS give NaN."""
        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet")
        assert self.features is not None and self.targets is not None
        ts = np.asarray(ts, dtype=np.float64)
        ok = np.isfinite(ts).any(axis=1)
        proba = np.full((ts.shape[0], len(KINDS)), np.nan)
        y = np.full((ts.shape[0], len(TARGET_NAMES)), np.nan)
        if ok.any():
            x, mask = self.features.transform(ts[ok])
            p, z = self._predict(x, mask)
            proba[ok] = p
            y[ok] = self.targets.inverse(z)
        return proba, y

    def predict(self, spectra: xr.Dataset) -> xr.Dataset:
        """Predict kind (+ its probability), theta (deg), a, b, Req (m) and alpha.

        Raises :class:`ModelMismatchError` if the spectra are on another frequency grid
        and :class:`SpectraValidationError` if no TS value is finite. Targets with no
        finite TS get kind ``"unknown"`` and NaN values.
        """
        import xarray as xr

        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet")
        origin = "the spectra"
        check_grid(self.frequency, spectra["frequency"].values, origin)
        proba, y = self.predict_arrays(ts_array(spectra, origin))
        ok = np.isfinite(proba).all(axis=1)
        idx = np.argmax(np.where(ok[:, None], proba, 0.0), axis=1)
        kind = np.where(ok, np.asarray(KINDS, dtype=object)[idx], "unknown").astype(object)
        prob = np.where(ok, np.take_along_axis(np.nan_to_num(proba), idx[:, None], 1)[:, 0], np.nan)
        theta, a, b = y[:, 0], y[:, 1], y[:, 2]
        coords = {"target": spectra["target"].values}
        units = {
            "theta": "degree",
            "a": "m",
            "b": "m",
            "Req": "m",
            "alpha": "1",
            "probability": "1",
        }
        data = {
            "kind": kind,
            "probability": prob,
            "theta": theta,
            "a": a,
            "b": b,
            "Req": np.cbrt(a * b * b),
            "alpha": a / b,
        }
        out = xr.Dataset(coords=coords, attrs={"model": self.name})
        for key, values in data.items():
            attrs = {"units": units[key]} if key in units else {}
            out[key] = ("target", values, attrs)
        return out

    def metadata(self) -> dict[str, Any]:
        """Everything but the weights that a model file records (JSON-able)."""
        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet; nothing to save")
        assert self.features is not None and self.targets is not None
        return {
            "plugin": self.name,
            "frequency_hz": np.asarray(self.frequency).tolist(),
            "features": self.features.to_dict(),
            "targets": self.targets.to_dict(),
            "target_names": list(TARGET_NAMES),
            "kinds": list(KINDS),
            "settings": self.saved_settings(),
            "split": self.split.to_dict() if self.split is not None else None,
            "training": self.training,
        }

    def restore(self, meta: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
        """Set the fitted state from a model file's metadata and weight blobs."""
        self.frequency = np.asarray(meta["frequency_hz"], dtype=np.float64)
        self.features = FeatureScaler.from_dict(meta["features"])
        self.targets = TargetScaler.from_dict(meta["targets"])
        self.split = Split.from_dict(meta["split"]) if meta.get("split") else None
        self.training = dict(meta.get("training") or {})
        self._import_weights(files)

    def save(self, path: str | Path) -> None:
        """Write the model file (see :mod:`ts_toolkit.modelfile`)."""
        from .modelfile import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> SpectraLearner:
        """Read a model file written by :meth:`save` (no arbitrary unpickling)."""
        from .modelfile import read_model_file

        meta, files = read_model_file(path)
        if meta["plugin"] != cls.name:
            raise ModelMismatchError(f"{path} holds a {meta['plugin']!r} model, not {cls.name!r}")
        try:
            model = cls(**meta["settings"])
        except TypeError as exc:
            raise ModelMismatchError(
                f"{path}: settings do not fit this version of the {cls.name!r} plugin: {exc}"
            ) from exc
        model.restore(meta, files)
        return model


# --------------------------------------------------------------------------------------
# Pipeline: train and evaluate
# --------------------------------------------------------------------------------------


def train_model(ds: xr.Dataset, model: str, seed: int = 0, **options: Any) -> SpectraLearner:
    """Split ``ds`` (seeded, 80/10/10 by kind), fit plugin ``model`` on the training part
    with early stopping/selection on the validation part, and record the split."""
    from .plugins import get_classifier_class

    ts_array(ds, "training data")
    cls = get_classifier_class(model)
    split = split_dataset(ds, seed)
    opts = dict(options)
    if "seed" in accepted_options(cls):
        opts.setdefault("seed", seed)
    check_options(cls, opts)
    try:
        learner = cls(**opts)
    except (TypeError, ValueError) as exc:
        raise TsToolkitError(f"invalid option value for model {model!r}: {exc}") from exc
    learner.fit(ds.isel(target=split.train), ds.isel(target=split.validation))
    learner.split = split
    return learner


def accepted_options(cls: type) -> list[str]:
    """Names of the keyword options a learner class's constructor takes."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [name for name, p in params.items() if name != "self" and p.kind in kinds]


def check_options(cls: type, options: Mapping[str, Any]) -> None:
    """Raise a one-line error naming an option the plugin class does not accept."""
    accepted = accepted_options(cls)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TsToolkitError(
            f"model {getattr(cls, 'name', cls)!r} does not take option(s) "
            f"{', '.join(unknown)}; it takes: {', '.join(accepted)}"
        )


@dataclass
class Evaluation:
    """One model's predictions on a test set, with the truth and the metrics."""

    label: str
    model: str
    indices: np.ndarray
    truth: dict[str, np.ndarray]
    pred: dict[str, np.ndarray]
    metrics: dict[str, float]
    ts: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    frequency: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    note: str = ""


def evaluation_indices(
    model: Any, ds: xr.Dataset, use_split: bool = True
) -> tuple[np.ndarray, str]:
    """Indices to evaluate ``model`` on: its saved test split when the data is the one it
    was trained on, else every target (with a note saying so)."""
    n = ds.sizes["target"]
    split = getattr(model, "split", None)
    if not use_split:
        return np.arange(n), "all targets"
    if split is None:
        return np.arange(n), "all targets (the model has no saved split)"
    if split.n_targets != n or (split.fingerprint and split.fingerprint != dataset_fingerprint(ds)):
        raise ModelMismatchError(
            f"model {getattr(model, 'name', '?')!r} was trained on another data set "
            f"({split.n_targets} targets, fingerprint {split.fingerprint}); to evaluate it on "
            f"every target of this one, use --all"
        )
    return split.test, f"saved test split (seed {split.seed}, {split.test.size} targets)"


def add_db_noise(ds: xr.Dataset, sigma_db: float, seed: int = 0) -> xr.Dataset:
    """A copy of ``ds`` with Gaussian noise of ``sigma_db`` dB added to every finite TS."""
    rng = np.random.default_rng(seed)
    ts = np.asarray(ds["TS"].values, dtype=np.float64)
    noisy = ts + rng.normal(0.0, sigma_db, ts.shape)
    out = ds.copy()
    out["TS"] = (ds["TS"].dims, np.where(np.isfinite(ts), noisy, np.nan), ds["TS"].attrs)
    return out


def evaluate_model(
    model: Any,
    ds: xr.Dataset,
    label: str | None = None,
    use_split: bool = True,
    indices: np.ndarray | None = None,
    noise_db: float = 0.0,
    seed: int = 0,
) -> Evaluation:
    """Predict targets of ``ds`` with ``model`` and score them.

    The targets are ``indices`` when given, else the model's saved test split (or every
    target: see :func:`evaluation_indices`). ``noise_db`` > 0 adds seeded Gaussian dB noise
    to the TS first (robustness check).
    """
    check_grid(model.frequency, ds["frequency"].values, "the evaluation data")
    if indices is None:
        idx, note = evaluation_indices(model, ds, use_split)
    else:
        idx, note = np.asarray(indices, dtype=np.int64), f"{len(indices)} given targets"
    sub = ds.isel(target=idx)
    if noise_db > 0:
        sub = add_db_noise(sub, noise_db, seed)
        note += f"; {noise_db:g} dB Gaussian noise added (seed {seed})"
    truth = truth_of(sub, "evaluation data")
    out = model.predict(sub)
    kinds = np.asarray(out["kind"].values).astype(str)
    pred_kind = np.full(kinds.shape, -1, dtype=np.int64)
    for i, k in enumerate(KINDS):
        pred_kind[kinds == k] = i
    pred = {"kind": pred_kind, "probability": np.asarray(out["probability"].values, float)}
    for key in ("theta", "a", "b", "alpha", "Req"):
        pred[key] = np.asarray(out[key].values, dtype=float)
    scored = np.isfinite(pred["theta"])
    if not scored.any():
        raise SpectraValidationError("evaluation data: no target has a measured spectrum")
    metrics = compute_metrics(
        {k: v[scored] for k, v in truth.items()}, {k: v[scored] for k, v in pred.items()}
    )
    if not scored.all():
        note += f"; {int((~scored).sum())} all-NaN spectra skipped"
    return Evaluation(
        label or model.name,
        model.name,
        idx,
        truth,
        pred,
        metrics,
        ts=np.asarray(sub["TS"].values, float),
        frequency=np.asarray(sub["frequency"].values, float),
        note=note,
    )


# --------------------------------------------------------------------------------------
# Reports: comparison table, Figure 3, outliers
# --------------------------------------------------------------------------------------


def format_metric(key: str, value: float) -> str:
    """A metric for tables: RMSEs to 2 decimals, scores (R², accuracy) to 3."""
    if not np.isfinite(value):
        return "nan"
    return f"{value:.2f}" if key.startswith("rmse") else f"{value:.3f}"


def comparison_markdown(
    results: Sequence[Evaluation], extra_rows: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The comparison table (rows: metrics, columns: models) as Markdown."""
    header = "| metric | " + " | ".join(r.label for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for key, label in METRIC_LABELS.items():
        lines.append(
            f"| {label} | " + " | ".join(format_metric(key, r.metrics[key]) for r in results) + " |"
        )
    for label, values in (extra_rows or {}).items():
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def comparison_csv(results: Sequence[Evaluation]) -> str:
    """The comparison table as CSV (full precision), one column per model."""
    lines = ["metric," + ",".join(r.label for r in results)]
    for key in METRIC_LABELS:
        lines.append(key + "," + ",".join(repr(float(r.metrics[key])) for r in results))
    return "\n".join(lines) + "\n"


def plot_true_vs_predicted(results: Sequence[Evaluation], path: str | Path) -> Path:
    """Figure 3 analogue: true vs predicted θ, a, b, α (one row per model), gas and liquid
    coloured, with the 1:1 line and R² in each panel. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("theta", "θ (deg)", 1.0, "r2_theta"),
        ("a", "a (mm)", 1e3, "r2_a"),
        ("b", "b (mm)", 1e3, "r2_b"),
        ("alpha", "α = a/b", 1.0, "r2_alpha"),
    ]
    colors = {"gas": "tab:blue", "liquid": "tab:orange"}
    fig, axes = plt.subplots(len(results), 4, figsize=(13, 3.2 * len(results)), squeeze=False)
    for row, res in zip(axes, results, strict=True):
        for ax, (key, label, scale, mkey) in zip(row, panels, strict=True):
            t = res.truth[key] * scale
            p = res.pred[key] * scale
            for i, kind in enumerate(KINDS):
                sel = (res.truth["kind"] == i) & np.isfinite(p)
                ax.scatter(
                    t[sel], p[sel], s=4, alpha=0.5, color=colors[kind], label=kind, rasterized=True
                )
            lo = float(np.nanmin([t.min(), np.nanmin(p)]))
            hi = float(np.nanmax([t.max(), np.nanmax(p)]))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_title(f"{res.label}: {label}  R² = {res.metrics[mkey]:.3f}", fontsize=9)
            ax.set_xlabel(f"true {label}", fontsize=8)
            ax.set_ylabel(f"predicted {label}", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].legend(fontsize=7, markerscale=3, loc="upper left")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def count_peaks(ts: np.ndarray, prominence_db: float = 3.0) -> np.ndarray:
    """Number of spectral peaks (local maxima with ≥ ``prominence_db`` dB prominence) of
    each TS row (NaN gaps are skipped); a proxy for resonance/interference structure."""
    from scipy.signal import find_peaks

    out = np.zeros(ts.shape[0], dtype=np.int64)
    for i, row in enumerate(np.asarray(ts, dtype=float)):
        r = row[np.isfinite(row)]
        if r.size >= 3:
            out[i] = len(find_peaks(r, prominence=prominence_db)[0])
    return out


def peak_bins(peaks: np.ndarray) -> list[tuple[int, int]]:
    """Up to three inclusive integer ranges splitting peak counts at their terciles."""
    p = np.asarray(peaks, dtype=np.int64)
    if p.size == 0:
        return []
    cuts = np.floor(np.quantile(p, [1 / 3, 2 / 3])).astype(np.int64) + 1
    edges = sorted(
        {int(p.min()), *(int(c) for c in cuts if p.min() < c <= p.max()), int(p.max()) + 1}
    )
    return [(lo, hi - 1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def target_errors(res: Evaluation) -> np.ndarray:
    """Per-target combined error: |Δθ|/σθ + |Δa|/σa + |Δb|/σb (σ: std of the true values
    in the test set) plus 1 for a wrong kind; NaN predictions rank last."""
    err = np.zeros(res.indices.size)
    for key in TARGET_NAMES:
        sd = float(np.std(res.truth[key])) or 1.0
        err += np.abs(res.pred[key] - res.truth[key]) / sd
    err += (res.pred["kind"] != res.truth["kind"]).astype(float)
    return np.where(np.isfinite(err), err, -np.inf)


def outlier_report(res: Evaluation, n: int) -> str:
    """Markdown: the ``n`` worst-predicted test targets with their parameters, then where
    the largest errors concentrate (share of the worst decile vs share of the test set, by
    kind, Req, alpha and number of spectral peaks)."""
    err = target_errors(res)
    order = np.argsort(-err)[:n]
    peaks = count_peaks(res.ts) if res.ts.size else np.zeros(err.size, dtype=np.int64)
    t, p = res.truth, res.pred
    lines = [
        f"### {res.label}: {len(order)} worst-predicted test targets",
        "",
        "| target | kind (pred) | θ true/pred (deg) | a true/pred (mm) | b true/pred (mm) "
        "| α true/pred | Req (mm) | peaks | error |",
        "|---:|---|---|---|---|---|---:|---:|---:|",
    ]
    for i in order:
        pk = KINDS[p["kind"][i]] if p["kind"][i] >= 0 else "unknown"
        lines.append(
            f"| {int(res.indices[i])} | {KINDS[t['kind'][i]]} ({pk}) | "
            f"{t['theta'][i]:.1f} / {p['theta'][i]:.1f} | {1e3 * t['a'][i]:.2f} / "
            f"{1e3 * p['a'][i]:.2f} | {1e3 * t['b'][i]:.2f} / {1e3 * p['b'][i]:.2f} | "
            f"{t['alpha'][i]:.2f} / {p['alpha'][i]:.2f} | {1e3 * t['Req'][i]:.2f} | "
            f"{peaks[i]} | {err[i]:.2f} |"
        )
    worst = np.zeros(err.size, dtype=bool)
    worst[np.argsort(-err)[: max(1, err.size // 10)]] = True
    lines += [
        "",
        f"Where errors concentrate (worst 10 % = {int(worst.sum())} targets; error as above):",
        "",
        "| group | share of test set | share of worst 10 % | mean error |",
        "|---|---:|---:|---:|",
    ]
    groups: list[tuple[str, np.ndarray]] = [
        (f"kind = {k}", t["kind"] == i) for i, k in enumerate(KINDS)
    ]
    for key, label, scale, unit in (("Req", "Req", 1e3, " mm"), ("alpha", "α", 1.0, "")):
        edges = np.quantile(t[key], [0, 1 / 3, 2 / 3, 1])
        for j in range(3):
            sel = (t[key] >= edges[j]) & (
                (t[key] < edges[j + 1]) if j < 2 else (t[key] <= edges[j + 1])
            )
            groups.append(
                (f"{label} in [{edges[j] * scale:.2f}, {edges[j + 1] * scale:.2f}]{unit}", sel)
            )
    for lo, hi in peak_bins(peaks):
        name = f"peaks = {lo}" if lo == hi else f"peaks {lo}–{hi}"
        groups.append((name, (peaks >= lo) & (peaks <= hi)))
    finite = np.isfinite(err)
    for name, sel in groups:
        if not sel.any():
            continue
        mean_err = float(np.mean(err[sel & finite])) if (sel & finite).any() else float("nan")
        lines.append(f"| {name} | {sel.mean():.1%} | {sel[worst].mean():.1%} | {mean_err:.2f} |")
    return "\n".join(lines) + "\n"
