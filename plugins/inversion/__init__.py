"""Built-in physics-based inversion: library search plus exact prolate-spheroid refinement
(docs/inversion.md). Registering imports nothing heavy."""

from __future__ import annotations

from ts_toolkit import hookimpl


@hookimpl
def register_classifiers(register):  # type: ignore[no-untyped-def]
    """Register the ``inversion`` model."""
    from .learner import InversionLearner

    register(InversionLearner)
