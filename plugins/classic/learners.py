"""KNN, SVM and random-forest learners (scikit-learn), paper-like defaults.

Each learner is a classifier for the kind plus regression of the z-scored targets
(theta, a, b) on the per-frequency z-scored TS (NaN frequencies set to 0, the training
mean). scikit-learn and skops are imported inside methods, so registering these classes
costs nothing. Fitted estimators are stored with skops and loaded with an explicit list
of trusted types (:data:`TRUSTED_TYPES`); nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError
from ts_toolkit.learn.base import SpectraLearner
from ts_toolkit.learn.data import TARGET_NAMES, LearnArrays
from ts_toolkit.learn.metrics import metrics_from_arrays
from ts_toolkit.options import option

#: Every non-default type a classic model file may contain (skops refuses anything else).
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.SVR",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
)


def _dumps(estimator: Any) -> bytes:
    import skops.io as sio

    return sio.dumps(estimator)


def _loads(data: bytes, name: str) -> Any:
    """Load one skops blob, refusing any type outside :data:`TRUSTED_TYPES`."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # not a skops archive: corrupt or tampered
        raise InputFileError(f"model weights {name!r} are not a valid skops file: {exc}") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise InputFileError(
            f"model weights {name!r} contain untrusted types {refused}; refusing to load them"
        )
    try:
        return sio.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise InputFileError(f"model weights {name!r} cannot be loaded: {exc}") from exc


class SklearnLearner(SpectraLearner):
    """Shared fit/predict/persistence for the scikit-learn learners.

    One classifier (kind) plus regressors: one per target, or a single multi-output
    regressor when :attr:`multi_output` (KNN: identical neighbours for every target, so
    one regressor gives the same predictions as three and stores the data once).
    """

    multi_output: ClassVar[bool] = False

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.classifier_: Any = None
        self.regressors_: list[Any] = []

    def _make_classifier(self) -> Any:
        raise NotImplementedError

    def _make_regressor(self) -> Any:
        raise NotImplementedError

    def _fit_all(self, x: np.ndarray, jobs: list[tuple[Any, np.ndarray]]) -> list[Any]:
        """Fit each (estimator, y) on ``x``; sequential (the estimators use ``n_jobs``)."""
        return [est.fit(x, y) for est, y in jobs]

    def _fit(self, train: LearnArrays, validation: LearnArrays | None) -> dict[str, Any]:
        jobs: list[tuple[Any, np.ndarray]] = [(self._make_classifier(), train.kind)]
        if self.multi_output:
            jobs.append((self._make_regressor(), train.y))
        else:
            jobs += [(self._make_regressor(), train.y[:, i]) for i in range(train.y.shape[1])]
        fitted = self._fit_all(train.x, jobs)
        self.classifier_, self.regressors_ = fitted[0], fitted[1:]
        details: dict[str, Any] = {}
        if validation is not None and len(validation):
            assert self.targets is not None
            proba, z = self._predict(validation.x, validation.mask)
            details["validation"] = metrics_from_arrays(
                validation.kind,
                self.targets.inverse(validation.y, clip=False),
                proba,
                self.targets.inverse(z),
            )
        return details

    def _proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classifier_.predict_proba(x), dtype=np.float64)

    def _predict(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.multi_output:
            z = np.asarray(self.regressors_[0].predict(x), dtype=np.float64)
        else:
            z = np.stack([r.predict(x) for r in self.regressors_], axis=1)
        return self._proba(x), z

    def _export_weights(self) -> dict[str, bytes]:
        files = {"classifier.skops": _dumps(self.classifier_)}
        names = ["targets"] if self.multi_output else list(TARGET_NAMES)
        for name, reg in zip(names, self.regressors_, strict=True):
            files[f"regressor-{name}.skops"] = _dumps(reg)
        return files

    def _import_weights(self, files: Mapping[str, bytes]) -> None:
        names = ["targets"] if self.multi_output else list(TARGET_NAMES)
        expected = ["classifier.skops"] + [f"regressor-{n}.skops" for n in names]
        missing = [n for n in expected if n not in files]
        if missing:
            raise InputFileError(f"{self.name!r} model file lacks weights {missing}")
        self.classifier_ = _loads(files["classifier.skops"], "classifier.skops")
        self.regressors_ = [_loads(files[n], n) for n in expected[1:]]


N_JOBS_HELP = "Parallel jobs (scikit-learn's n_jobs; -1: every CPU)."
SEED_HELP = "Random seed."


@dataclass(frozen=True)
class KNNOptions:
    """Options of the ``knn`` learner."""

    k: int = option(5, "Number of neighbours.")
    weights: str = option("distance", "'distance' or 'uniform' neighbour weights.")
    n_jobs: int | None = option(None, N_JOBS_HELP)
    seed: int = option(0, SEED_HELP)


class KNNLearner(SklearnLearner):
    """k-nearest neighbours (k = 5, distance-weighted) on z-scored spectra."""

    name: ClassVar[str] = "knn"
    multi_output: ClassVar[bool] = True
    Options: ClassVar[type] = KNNOptions

    def _make_classifier(self) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        s = self.settings
        return KNeighborsClassifier(n_neighbors=s["k"], weights=s["weights"], n_jobs=s["n_jobs"])

    def _make_regressor(self) -> Any:
        from sklearn.neighbors import KNeighborsRegressor

        s = self.settings
        return KNeighborsRegressor(n_neighbors=s["k"], weights=s["weights"], n_jobs=s["n_jobs"])


@dataclass(frozen=True)
class SVMOptions:
    """Options of the ``svm`` learner."""

    C: float = option(1.0, "Regularisation parameter C.")
    gamma: str | float = option("scale", "RBF kernel coefficient: 'scale', 'auto' or a number.")
    epsilon: float = option(0.1, "Epsilon-tube of the SVR regressors (z-scored targets).")
    cache_mb: float = option(1000.0, "Kernel cache size.", unit="MB")
    n_jobs: int | None = option(None, "Fit the four models in parallel (joblib).")
    seed: int = option(0, SEED_HELP)


class SVMLearner(SklearnLearner):
    """Support vector machines (RBF, C = 1, gamma = "scale"): SVC + one SVR per target.

    ``n_jobs`` fits the four models in parallel (joblib). The kind "probability" is the
    logistic of the SVC decision value (uncalibrated; Platt scaling would need an internal
    cross-validation, about 5× the training time).
    """

    name: ClassVar[str] = "svm"
    Options: ClassVar[type] = SVMOptions

    def _make_classifier(self) -> Any:
        from sklearn.svm import SVC

        s = self.settings
        return SVC(
            C=s["C"],
            kernel="rbf",
            gamma=s["gamma"],
            cache_size=s["cache_mb"],
            random_state=s["seed"],
        )

    def _make_regressor(self) -> Any:
        from sklearn.svm import SVR

        s = self.settings
        return SVR(
            C=s["C"], kernel="rbf", gamma=s["gamma"], epsilon=s["epsilon"], cache_size=s["cache_mb"]
        )

    def _fit_all(self, x: np.ndarray, jobs: list[tuple[Any, np.ndarray]]) -> list[Any]:
        from joblib import Parallel, delayed

        n_jobs = self.settings["n_jobs"]
        if n_jobs in (None, 1):
            return super()._fit_all(x, jobs)
        return Parallel(n_jobs=n_jobs)(delayed(est.fit)(x, y) for est, y in jobs)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        d = np.asarray(self.classifier_.decision_function(x), dtype=np.float64)
        p1 = 1.0 / (1.0 + np.exp(-d))
        return np.stack([1.0 - p1, p1], axis=1)


@dataclass(frozen=True)
class RFOptions:
    """Options of the ``rf`` learner."""

    n_estimators: int = option(200, "Trees per forest.")
    max_features: str | float = option(
        "sqrt", "Features tried per split: 'sqrt', 'log2' or a fraction."
    )
    min_samples_leaf: int = option(3, "Minimum samples per leaf.")
    n_jobs: int | None = option(-1, N_JOBS_HELP)
    seed: int = option(0, SEED_HELP)


class RFLearner(SklearnLearner):
    """Random forests (max_features = "sqrt"): a classifier + one regressor per target.

    The paper used 5,000 trees; the default here is 200 trees with at least 3 samples per
    leaf, which on 24,000 × 501 spectra trains in minutes on 2 cores and keeps the model
    file in the hundreds of MB (a fully grown tree on 24,000 samples is ~2 MB). Raise
    ``n_estimators`` (and lower ``min_samples_leaf``) to move towards the paper's setting.
    """

    name: ClassVar[str] = "rf"
    Options: ClassVar[type] = RFOptions

    def _common(self) -> dict[str, Any]:
        s = self.settings
        return dict(
            n_estimators=s["n_estimators"],
            max_features=s["max_features"],
            min_samples_leaf=s["min_samples_leaf"],
            n_jobs=s["n_jobs"],
            random_state=s["seed"],
        )

    def _make_classifier(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(**self._common())

    def _make_regressor(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(**self._common())
