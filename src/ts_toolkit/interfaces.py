"""What a plugin provides: the Simulator, Source and Classifier base classes.

Subclass one of these and register the class from a hook (see :mod:`ts_toolkit.hookspecs`
and docs/plugins.md):

- :class:`Simulator`: a forward model, target parameters -> TS(f). Declare ``name``,
  ``version``, ``kinds`` and ``parameters``; write ``_ts``. The base class checks the
  frequencies and parameters, broadcasts them to one length and squeezes the result.
- :class:`Source`: a reader of measured data, a file -> spectra Dataset of detected
  targets. Declare ``name``, ``suffixes`` and an ``Options`` dataclass; write
  ``can_open`` and ``_open``. The base class validates the options.
- :data:`Classifier`: :class:`ts_toolkit.learn.SpectraLearner`, the learner base class;
  write ``_fit``, ``_predict``, ``_export_weights`` and ``_import_weights`` and declare an
  ``Options`` dataclass.

Units are SI throughout (metres, Hz, kg/m³, m/s); angles are in degrees at every
interface. The incident angle ``theta`` is the angle between the incident wave direction
and the target's major axis: 90° is broadside, 0° end-on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from .errors import InvalidParameterError
from .learn.base import SpectraLearner
from .options import NoOptions, build_options

if TYPE_CHECKING:
    import xarray as xr

    from .parameters import ParameterSpace

TARGET_KINDS: tuple[str, ...] = ("gas", "liquid")

#: The Classifier contract: subclass the learner base class.
Classifier = SpectraLearner


@dataclass(frozen=True)
class ParameterSpec:
    """One simulator parameter: its unit and the closed range of valid values.

    ``name`` is filled in from the key under which a :class:`Simulator` declares it.
    """

    unit: str
    minimum: float
    maximum: float
    description: str = ""
    default: float | None = None
    name: str = ""

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


def named_parameters(specs: Mapping[str, ParameterSpec]) -> dict[str, ParameterSpec]:
    """``specs`` with each spec's ``name`` set to its key."""
    return {key: replace(spec, name=key) for key, spec in specs.items()}


class Simulator:
    """A forward model: target parameters -> TS(f) in dB re 1 m².

    Subclasses declare ``name``, ``version``, ``kinds`` (the target kinds it models),
    ``parameters`` (name -> :class:`ParameterSpec`) and, for keyword settings that are not
    per-target parameters, ``settings`` (name -> default); and they implement
    :meth:`_ts`.

    :meth:`ts` takes frequencies in Hz (1-D) and parameters as scalars or 1-D arrays of
    equal length (one value per target). It returns an array of shape ``(n_freq,)`` when
    every parameter is scalar and ``(n_targets, n_freq)`` otherwise. A frequency at which
    the model cannot give a trustworthy value is NaN (with a warning), never a wrong
    finite number.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    kinds: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[Mapping[str, ParameterSpec]] = {}
    settings: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "parameters" in cls.__dict__:
            cls.parameters = named_parameters(cls.parameters)

    def ts(self, frequency: npt.ArrayLike, **params: Any) -> np.ndarray:
        """TS (dB re 1 m²) at ``frequency`` (Hz) for one target or many (see the class)."""
        settings = {k: params.pop(k) for k in list(params) if k in self.settings}
        freq = check_frequency(frequency)
        values, scalar = broadcast_parameters(self.parameters, params)
        out = np.asarray(self._ts(freq, **values, **{**self.settings, **settings}))
        return out[0] if scalar else out

    def _ts(self, frequency: np.ndarray, **params: Any) -> np.ndarray:
        """TS (n_targets, n_freq) for checked 1-D parameter arrays of equal length and the
        keyword ``settings``; ``frequency`` is a 1-D array of positive Hz."""
        raise NotImplementedError


@dataclass(frozen=True)
class SyntheticSurvey:
    """What :meth:`Source.write_synthetic_survey` wrote: the data file and its truth
    (a Dataset with dim ``target`` and ``ping_time``, ``range``, ``kind``, ``a``, ``b``,
    ``alpha``, ``theta``, ... per target)."""

    path: Path
    truth: xr.Dataset
    description: str = ""


class Source:
    """A reader of measured data: a file -> spectra Dataset of detected targets.

    Subclasses declare ``name``, the file-name ``suffixes`` a folder search should pick up
    (e.g. ``(".raw",)``) and ``Options``, a dataclass of reading options made with
    :func:`ts_toolkit.options.option`; they implement :meth:`can_open` (cheap: no heavy
    imports) and :meth:`_open`. An input may be a directory (a store such as ``.zarr``):
    when ``can_open`` is true for a directory, it is one input, not a folder to search.
    A source that also reads in-memory objects (a reader library's dataset) implements
    :meth:`can_open_object` and :meth:`_open_object`. A source that can also write
    synthetic data of its format with known targets sets ``writes_synthetic_surveys``
    and implements :meth:`write_synthetic_survey` (the ``demo`` command uses it).
    """

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type] = NoOptions
    writes_synthetic_surveys: ClassVar[bool] = False

    def can_open(self, path: str | Path) -> bool:
        """True when this source reads ``path`` (by its content, not only its name)."""
        return False

    def options(self, **options: Any) -> Any:
        """The validated ``Options`` instance of keyword options (Python values or text)."""
        return build_options(self.Options, options, self.name)

    def open(self, path: str | Path, **options: Any) -> xr.Dataset:
        """Detected targets of ``path`` and their TS(f), as a spectra Dataset, whose
        attributes name the input (``input_file``, its ``input_sha256`` checksum), the
        ``reader`` (this source) and its ``reading_options``."""
        from .conventions import file_sha256

        p = Path(path)
        settings = self.options(**options)
        ds = self._open(p, settings)
        if p.exists():  # a file, or a store directory (its files' checksums)
            ds.attrs["input_sha256"] = file_sha256(p)
        return self._provenance(ds, p.name, settings)

    def _provenance(self, ds: xr.Dataset, name: str, settings: Any) -> xr.Dataset:
        """``ds`` with the input's ``name``, the ``reader``, its ``reading_options`` and a
        ``history`` line in its attributes."""
        from dataclasses import asdict, is_dataclass

        from .spectra import to_attr

        ds.attrs["input_file"] = name
        ds.attrs["reader"] = self.name
        if is_dataclass(settings) and not isinstance(settings, type):
            ds.attrs["reading_options"] = to_attr(asdict(settings))
        line = f"single targets of {name} read by the {self.name} source"
        history = str(ds.attrs.get("history", "")).strip()
        ds.attrs["history"] = f"{history}\n{line}" if history else line
        return ds

    def _open(self, path: Path, options: Any) -> xr.Dataset:
        raise NotImplementedError

    def can_open_object(self, obj: Any) -> bool:
        """True when this source reads the in-memory object ``obj`` (cheap: no heavy
        imports)."""
        return False

    def open_object(self, obj: Any, **options: Any) -> xr.Dataset:
        """Detected targets of the in-memory object ``obj`` and their TS(f) (attributes as
        :meth:`open`'s; ``input_file`` is the Dataset's ``source_file``, no checksum)."""
        settings = self.options(**options)
        ds = self._open_object(obj, settings)
        name = str(ds.attrs.get("source_file", type(obj).__name__))
        return self._provenance(ds, name, settings)

    def _open_object(self, obj: Any, options: Any) -> xr.Dataset:
        raise NotImplementedError(f"source {self.name!r} reads files only")

    def write_synthetic_survey(
        self,
        out: Path,
        truth: Path,
        n_targets: int,
        seed: int,
        *,
        simulator: str,
        space: ParameterSpace | None = None,
        noise_db: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> SyntheticSurvey:
        """Write a data file ``out`` with ``n_targets`` known targets drawn from ``space``
        (TS(f) from ``simulator``) and their truth as NetCDF ``truth``; ``noise_db`` is the
        receiver noise level (dB re 1 W, None: no noise); ``progress(k)`` is called as
        targets finish."""
        raise NotImplementedError(f"source {self.name!r} cannot write synthetic surveys")


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
