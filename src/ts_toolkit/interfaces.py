"""What a plugin must provide: the Simulator, Classifier and Source protocols.

Units are SI throughout (metres, Hz, kg/m³, m/s); angles are in degrees at every
interface. The incident angle ``theta`` is the angle between the incident wave direction
and the target's major axis: 90° is broadside, 0° end-on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import InvalidParameterError

TARGET_KINDS: tuple[str, ...] = ("gas", "liquid")


@dataclass(frozen=True)
class ParameterSpec:
    """One simulator parameter: its unit and the closed range of valid values."""

    name: str
    unit: str
    minimum: float
    maximum: float
    description: str = ""
    default: float | None = None

    def check(self, value: npt.ArrayLike) -> np.ndarray:
        """Return ``value`` as a float array, or raise naming the parameter and the range."""
        arr = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise InvalidParameterError(f"parameter {self.name!r} must be finite, got {value!r}")
        if np.any(arr < self.minimum) or np.any(arr > self.maximum):
            bad = arr[(arr < self.minimum) | (arr > self.maximum)].ravel()[0]
            raise InvalidParameterError(
                f"parameter {self.name!r} = {bad:g} {self.unit} is outside its valid range "
                f"[{self.minimum:g}, {self.maximum:g}] {self.unit}"
            )
        return arr


@runtime_checkable
class Simulator(Protocol):
    """A forward model: target parameters -> TS(f) in dB re 1 m².

    ``ts(frequency, **params)`` takes frequencies in Hz (1-D) and parameters as scalars or
    1-D arrays of equal length (one value per target). It returns an array of shape
    ``(n_freq,)`` when every parameter is scalar and ``(n_targets, n_freq)`` otherwise.
    A frequency at which the model cannot give a trustworthy value is NaN (with a
    warning), never a wrong finite number.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    parameters: ClassVar[Mapping[str, ParameterSpec]]

    def ts(self, frequency: npt.ArrayLike, **params: npt.ArrayLike) -> np.ndarray: ...


@runtime_checkable
class Classifier(Protocol):
    """A learner: spectra -> target kind, incident angle and size.

    ``predict`` returns an ``xarray.Dataset`` with dim ``target`` and variables ``kind``
    (str), ``probability`` (of the predicted kind), ``theta`` (deg), ``a``, ``b``, ``Req``
    (m) and ``alpha``. A saved model records its frequency grid, normalisation statistics,
    target names and library versions; ``load`` is safe (no arbitrary unpickling).
    """

    name: ClassVar[str]

    def fit(self, train: Any, validation: Any | None = None) -> Classifier: ...

    def predict(self, spectra: Any) -> Any: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> Classifier: ...


@runtime_checkable
class Source(Protocol):
    """A reader of measured data: a file -> spectra Dataset of detected targets."""

    name: ClassVar[str]

    def can_open(self, path: str | Path) -> bool: ...

    def open(self, path: str | Path, **options: Any) -> Any: ...


def broadcast_parameters(
    specs: Mapping[str, ParameterSpec], params: Mapping[str, npt.ArrayLike]
) -> tuple[dict[str, np.ndarray], bool]:
    """Check parameters against their specs and broadcast them to a common 1-D length.

    Returns the dict of 1-D float arrays (length ``n_targets``) and whether every input
    was a scalar. Unknown or missing parameters (without default) raise
    :class:`InvalidParameterError`.
    """
    unknown = set(params) - set(specs)
    if unknown:
        raise InvalidParameterError(
            f"unknown parameter(s) {sorted(unknown)}; expected {sorted(specs)}"
        )
    values: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        if name in params:
            value = params[name]
        elif spec.default is not None:
            value = spec.default
        else:
            raise InvalidParameterError(f"missing parameter {name!r} ({spec.unit})")
        arr = spec.check(value)
        if arr.ndim > 1:
            raise InvalidParameterError(f"parameter {name!r} must be a scalar or 1-D array")
        values[name] = arr
    scalar = all(v.ndim == 0 for v in values.values())
    try:
        shape = np.broadcast_shapes(*(v.shape for v in values.values()))
    except ValueError as exc:
        lengths = {k: v.shape for k, v in values.items() if v.ndim}
        raise InvalidParameterError(f"parameter arrays differ in length: {lengths}") from exc
    n = int(np.prod(shape)) if shape else 1
    return {k: np.broadcast_to(v, (n,)).astype(float) for k, v in values.items()}, scalar


def check_frequency(frequency: npt.ArrayLike) -> np.ndarray:
    """Return frequencies (Hz) as a 1-D float array; they must be finite and positive."""
    f = np.atleast_1d(np.asarray(frequency, dtype=float))
    if f.ndim != 1:
        raise InvalidParameterError("frequency must be a scalar or a 1-D array (Hz)")
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise InvalidParameterError("frequency must be finite and positive (Hz)")
    return f
