"""Built-in hybrid 1-D CNN learner (torch).

Registering imports no torch: :class:`CNNLearner` imports it when it fits or loads.
"""

from __future__ import annotations

from ts_toolkit import hookimpl

from .learner import CNNLearner

__all__ = ["CNNLearner"]


@hookimpl
def register_classifiers(register):
    register(CNNLearner)
