"""``simulate``, ``plot-spectra`` and ``demo``."""

from __future__ import annotations
