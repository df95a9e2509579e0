"""Example ts-toolkit plugin: a Classifier in about 60 lines of numpy.

The kind is the class of the nearest class centroid of the standardised spectra (NaN bins
are 0, the training mean), with a softmax of the negative squared distances as the
probability; theta, a and b come from ridge regression on the same features. The base
class (:class:`ts_toolkit.interfaces.Classifier`) does everything else: option checks,
standardisation, the frequency-grid check, the prediction Dataset, saving and loading.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ts_toolkit import hookimpl
from ts_toolkit.errors import InputFileError
from ts_toolkit.interfaces import Classifier
from ts_toolkit.options import option


@dataclass(frozen=True)
class CentroidOptions:
    """Options of the ``centroid`` learner."""

    ridge: float = option(1.0, "Ridge penalty of the theta, a, b regression (z-scored).")
    temperature: float = option(
        10.0, "Softmax temperature of the kind probability (mean squared distance units)."
    )


class CentroidClassifier(Classifier):
    """Nearest class centroid (kind) and ridge regression (theta, a, b) on z-scored TS."""

    name: ClassVar[str] = "centroid"
    Options: ClassVar[type] = CentroidOptions

    def _fit(self, train, validation):
        x = train.x
        self.centroids_ = np.stack([x[train.kind == k].mean(axis=0) for k in (0, 1)])
        design = np.hstack([x, np.ones((len(x), 1))])
        penalty = self.settings["ridge"] * np.eye(design.shape[1])
        self.coef_ = np.linalg.solve(design.T @ design + penalty, design.T @ train.y)
        return {"n_features": int(x.shape[1])}

    def _predict(self, x, mask):
        d2 = ((x[:, None, :] - self.centroids_[None, :, :]) ** 2).mean(axis=2)
        logits = -d2 / self.settings["temperature"]
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        z = np.hstack([x, np.ones((len(x), 1))]) @ self.coef_
        return proba, z

    def _export_weights(self):
        buf = io.BytesIO()
        np.savez(buf, centroids=self.centroids_, coef=self.coef_)
        return {"centroid.npz": buf.getvalue()}

    def _import_weights(self, files):
        try:
            with np.load(io.BytesIO(files["centroid.npz"]), allow_pickle=False) as npz:
                self.centroids_, self.coef_ = npz["centroids"], npz["coef"]
        except (KeyError, ValueError, OSError) as exc:
            raise InputFileError(f"centroid weights cannot be read: {exc}") from exc


@hookimpl
def register_classifiers(register):
    register(CentroidClassifier)
