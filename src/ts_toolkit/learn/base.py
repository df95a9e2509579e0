"""The learner base class: the Classifier contract of ts-toolkit plugins.

A plugin subclasses :class:`SpectraLearner`, declares its options as an ``Options``
dataclass (:func:`ts_toolkit.options.option` fields with help text) and implements
``_fit``, ``_predict``, ``_export_weights`` and ``_import_weights``; the base class
validates the options, checks the data, standardises inputs and targets, builds the
prediction Dataset, checks the frequency grid and saves / loads through
:mod:`ts_toolkit.modelfile` (which calls :meth:`SpectraLearner.metadata`,
:meth:`SpectraLearner.export_weights` and :meth:`SpectraLearner.restore`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import InputFileError, ModelMismatchError, SpectraValidationError, TsToolkitError
from ..options import NoOptions, build_options
from .data import KINDS, TARGET_NAMES, LearnArrays, check_grid, kind_index, target_array, ts_array
from .scaling import FeatureScaler, TargetScaler
from .split import Split
from .trust import INTERVAL_NAMES, TRUST_BLOBS, Trust

if TYPE_CHECKING:
    import xarray as xr

#: Percentiles of the training TS values a model file records (``training_ts_db``).
TS_PERCENTILES: tuple[int, ...] = (1, 5, 50, 95, 99)


def training_ts_range(ts: np.ndarray) -> dict[str, float]:
    """Summary of the finite values of training spectra ``ts`` (dB re 1 m²): ``min``,
    ``max``, percentiles ``p01`` ... ``p99`` (:data:`TS_PERCENTILES`) and ``n_values``.
    Stored in model files as ``training_ts_db``; an application derives its default
    detection threshold from it (:func:`ts_toolkit.apply.model_detection_threshold`)."""
    v = np.asarray(ts, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    pct = np.percentile(v, TS_PERCENTILES)
    out = {"min": round(float(v.min()), 3), "max": round(float(v.max()), 3)}
    out.update({f"p{q:02d}": round(float(x), 3) for q, x in zip(TS_PERCENTILES, pct, strict=True)})
    out["n_values"] = int(v.size)
    return out


class SpectraLearner:
    """Base class of every Classifier plugin (see :mod:`ts_toolkit.learn`).

    The constructor takes the options declared by the class's ``Options`` dataclass as
    keywords (Python values, or text such as ``"true"`` from the command line), validates
    them and stores them, converted, in :attr:`settings`. Options named in
    :attr:`runtime_options` (threads, device, progress display) are not saved in the model
    file; the rest are, and :meth:`load` passes them back to the constructor. Fitted state
    is set by :meth:`fit` or :meth:`restore`.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    runtime_options: ClassVar[tuple[str, ...]] = ("n_jobs", "device", "progress")

    def __init__(self, **settings: Any) -> None:
        options = build_options(self.Options, settings, f"model {self.name!r}")
        self.settings: dict[str, Any] = asdict(options)
        self.frequency: np.ndarray | None = None
        self.features: FeatureScaler | None = None
        self.targets: TargetScaler | None = None
        self.split: Split | None = None
        self.training: dict[str, Any] = {}
        self.training_ts: dict[str, float] = {}
        self.trust: Trust | None = None  # set by ts_toolkit.learn.trust.calibrate

    # -- hooks a plugin implements -----------------------------------------------------
    def _fit(self, train: LearnArrays, validation: LearnArrays | None) -> dict[str, Any]:
        """Fit on standardised arrays; return JSON-able training details (or {})."""
        raise NotImplementedError

    def _predict(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, len(KINDS)) and z-scored targets (n, 3)."""
        raise NotImplementedError

    def _predict_with_embedding(
        self, x: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`_predict`'s outputs and the learner's internal representation of each
        spectrum (n, d) for the out-of-distribution check; None if it has none."""
        proba, z = self._predict(x, mask)
        return proba, z, None

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
        self.training_ts = training_ts_range(ts[keep])
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
        proba, y, _ = self.predict_with_embedding(ts)
        return proba, y

    def predict_with_embedding(
        self, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`predict_arrays` and the learner's representation of each spectrum
        (n, d; NaN rows for spectra with no finite TS), or None if the learner has none."""
        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet")
        assert self.features is not None and self.targets is not None
        ts = np.asarray(ts, dtype=np.float64)
        ok = np.isfinite(ts).any(axis=1)
        proba = np.full((ts.shape[0], len(KINDS)), np.nan)
        y = np.full((ts.shape[0], len(TARGET_NAMES)), np.nan)
        emb = None
        if ok.any():
            x, mask = self.features.transform(ts[ok])
            p, z, h = self._predict_with_embedding(x, mask)
            proba[ok] = p
            y[ok] = self.targets.inverse(z)
            if h is not None:
                emb = np.full((ts.shape[0], h.shape[1]), np.nan)
                emb[ok] = h
        return proba, y, emb

    def predict(self, spectra: xr.Dataset) -> xr.Dataset:
        """Predict kind (+ its probability), theta (deg), a, b, Req (m) and alpha.

        Raises :class:`ModelMismatchError` if the spectra are on another frequency grid
        and :class:`SpectraValidationError` if no TS value is finite. Targets with no
        finite TS get kind ``"unknown"`` and NaN values. A calibrated model
        (:attr:`trust`) also gives each target's ``coverage`` (the fraction of the model
        grid measured), calibrated probabilities (``probability``; the network's own in
        ``probability_uncalibrated``), ``low_coverage``, interval bounds
        ``<name>_low``/``<name>_high`` and the out-of-distribution ``ood_score``/``ood``
        (docs/trust.md).
        """
        import xarray as xr

        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet")
        origin = "the spectra"
        check_grid(self.frequency, spectra["frequency"].values, origin)
        ts = ts_array(spectra, origin)
        trust = None
        if self.trust is not None:
            assert self.targets is not None
            proba, y, emb = self.predict_with_embedding(ts)
            bounds = (self.targets.minimum, self.targets.maximum)
            trust = self.trust.assess(ts, proba, y, bounds, emb)
        else:
            proba, y = self.predict_arrays(ts)
        raw_proba = proba
        if trust is not None:
            proba = trust["probability"]
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
            "probability_uncalibrated": "1",
            "coverage": "1",
            "ood_score": "dB",
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
        attrs_out: dict[str, Any] = {"model": self.name}
        if trust is not None:
            assert self.trust is not None
            data["probability_uncalibrated"] = np.where(
                ok, np.take_along_axis(np.nan_to_num(raw_proba), idx[:, None], 1)[:, 0], np.nan
            )
            data["coverage"] = trust["coverage"]
            data["low_coverage"] = trust["low_coverage"]
            for name, unit in INTERVAL_NAMES.items():
                for end in ("low", "high"):
                    data[f"{name}_{end}"] = trust[f"{name}_{end}"]
                    units[f"{name}_{end}"] = unit
            data["ood_score"] = trust["ood_score"]
            for extra in ("roughness", "ood_embedding_score"):
                if extra in trust:
                    data[extra] = trust[extra]
                    units[extra] = "dB" if extra == "roughness" else "1"
            data["ood"] = trust["ood"]
            attrs_out.update(
                interval_level=self.trust.level,
                min_coverage=self.trust.min_coverage,
                calibration_band_sets_khz="; ".join(self.trust.band_sets),
            )
        out = xr.Dataset(coords=coords, attrs=attrs_out)
        for key, values in data.items():
            attrs = {"units": units[key]} if key in units else {}
            out[key] = ("target", values, attrs)
        return out

    def export_weights(self) -> dict[str, bytes]:
        """The fitted state as named byte blobs, for the model file."""
        if not self.is_fitted:
            raise TsToolkitError(f"model {self.name!r} is not trained yet; nothing to save")
        files = self._export_weights()
        if self.trust is not None:
            files = {**files, **self.trust.blobs()}
        return files

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
            "training_ts_db": self.training_ts,
            **({"trust": self.trust.to_dict()} if self.trust is not None else {}),
        }

    def restore(self, meta: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
        """Set the fitted state from a model file's metadata and weight blobs."""
        self.frequency = np.asarray(meta["frequency_hz"], dtype=np.float64)
        self.features = FeatureScaler.from_dict(meta["features"])
        self.targets = TargetScaler.from_dict(meta["targets"])
        self.split = Split.from_dict(meta["split"]) if meta.get("split") else None
        self.training = dict(meta.get("training") or {})
        self.training_ts = dict(meta.get("training_ts_db") or {})  # absent in older files
        own = {k: v for k, v in files.items() if k not in TRUST_BLOBS}
        self.trust = (
            Trust.from_dict(meta["trust"], self.frequency, files) if meta.get("trust") else None
        )
        self._import_weights(own)

    def save(self, path: str | Path) -> None:
        """Write the model file (see :mod:`ts_toolkit.modelfile`)."""
        from ..modelfile import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> SpectraLearner:
        """Read a model file written by :meth:`save` (no arbitrary unpickling)."""
        from ..modelfile import read_model_file

        meta, files = read_model_file(path)
        if meta["plugin"] != cls.name:
            raise ModelMismatchError(f"{path} holds a {meta['plugin']!r} model, not {cls.name!r}")
        try:
            model = cls(**meta["settings"])
        except (TypeError, TsToolkitError) as exc:
            raise ModelMismatchError(
                f"{path}: settings do not fit this version of the {cls.name!r} plugin: {exc}"
            ) from exc
        try:
            model.restore(meta, files)
        except InputFileError as exc:  # name the file in the one-line message
            raise InputFileError(f"model file {path}: {exc}") from exc
        return model
