"""Built-in classic learners: KNN, SVM and random forest (scikit-learn).

Registering imports no scikit-learn: the classes import it when they fit or load.
"""

from __future__ import annotations

from ts_toolkit import hookimpl

from .learners import KNNLearner, RFLearner, SVMLearner

__all__ = ["KNNLearner", "RFLearner", "SVMLearner"]


@hookimpl
def register_classifiers(register):
    register(KNNLearner)
    register(SVMLearner)
    register(RFLearner)
