"""Parameter spaces for simulated training data and their seeded sampling.

The default space is Table I of the paper: gas- and liquid-filled prolate spheroids,
15,000 of each, on 10-260 kHz in 0.5 kHz steps (501 frequencies). A space is described
per target kind by distributions of the equivalent spherical radius ``Req`` (m), aspect
ratio ``alpha``, density ``rho_s`` (kg/m³), sound speed ``c_s`` (m/s) and incident angle
``theta`` (deg); the semi-axes follow as ``b = Req / alpha**(1/3)`` and ``a = alpha * b``.

A user describes another space in TOML (see :func:`load_space` and docs/simulate.md)::

    seed = 1                                  # optional default seed
    [frequency]
    bands = "34-45,55-90,90-170,160-260 kHz"  # or start/stop (kHz)
    step = 0.5                                # kHz
    [water]
    rho = 1027.0                              # kg/m³
    c = 1500.0                                # m/s
    [kinds.gas]
    count = 1000
    Req = { min = 0.1e-3, max = 5e-3 }        # m
    alpha = { min = 1.05, max = 8, distribution = "log-uniform" }
    rho_s = { min = 2, max = 80 }
    c_s = 343.0                               # a fixed value
    theta = { min = 0.01, max = 90 }
    [kinds.liquid]
    rho_s = { min = 1.01, max = 1.07, relative = true }   # × water density
    c_s = { same_factor_as = "rho_s" }        # c_s/c_w = rho_s/rho_w, target by target
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputFileError, InvalidParameterError
from .space_schema import DISTRIBUTIONS, check_space_config

WATER_DENSITY = 1027.0  # kg/m³
WATER_SOUND_SPEED = 1500.0  # m/s
GAS_SOUND_SPEED = 343.0  # m/s

# Order in which parameters are drawn: part of the reproducibility contract.
SAMPLED_PARAMETERS = ("Req", "alpha", "rho_s", "c_s", "theta")
PARAMETER_UNITS = {"Req": "m", "alpha": "1", "rho_s": "kg m-3", "c_s": "m s-1", "theta": "degree"}
#: Parameters that can take the other's factor over water (``same_factor_as``).
TIEABLE = {"rho_s": "c_s", "c_s": "rho_s"}

#: Size limits of a space, checked before anything is drawn or written (docs/simulate.md).
MAX_TARGETS = 10_000_000  # spectra in one space (all kinds together)
MAX_FREQUENCIES = 20_000  # points of the frequency grid
MAX_VALUES = 2_000_000_000  # targets x frequencies: 8 GB of float32 TS, assembled in memory


@dataclass(frozen=True)
class Distribution:
    """A fixed value (``minimum == maximum``) or a uniform / log-uniform range.

    ``relative`` ranges are multiples of the water value (``rho_s`` of ``rho_w``, ``c_s``
    of ``c_w``). ``same_factor_as`` (only between ``rho_s`` and ``c_s``) gives each target
    the other parameter's multiple of its water value, e.g. ``c_s/c_w = rho_s/rho_w``; such
    a parameter still consumes its draws, so the other parameters come out as without the tie.
    """

    minimum: float
    maximum: float
    distribution: str = "uniform"
    relative: bool = False
    same_factor_as: str | None = None

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise InvalidParameterError(
                f"distribution {self.distribution!r} unknown; use one of {DISTRIBUTIONS}"
            )
        if not (np.isfinite(self.minimum) and np.isfinite(self.maximum)):
            raise InvalidParameterError("distribution bounds must be finite")
        if self.maximum < self.minimum:
            raise InvalidParameterError(
                f"distribution min {self.minimum:g} is larger than max {self.maximum:g}"
            )
        if self.distribution == "log-uniform" and self.minimum <= 0:
            raise InvalidParameterError("a log-uniform distribution needs min > 0")

    @classmethod
    def fixed(cls, value: float) -> Distribution:
        return cls(float(value), float(value))

    @classmethod
    def tied(cls, other: str) -> Distribution:
        """The factor over water of parameter ``other`` (rho_s or c_s), target by target."""
        return cls(1.0, 1.0, relative=True, same_factor_as=other)

    def describe(self) -> dict[str, Any]:
        """JSON form; ``same_factor_as`` only when set, so untied spaces keep their hash."""
        out = asdict(self)
        if self.same_factor_as is None:
            del out["same_factor_as"]
        return out

    def sample(self, rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
        """``n`` draws (always consuming ``n`` uniforms, even for a fixed value)."""
        u = rng.random(n)
        lo, hi = self.minimum, self.maximum
        if self.distribution == "log-uniform":
            values = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            values = lo + u * (hi - lo)
        return values * (scale if self.relative else 1.0)


@dataclass(frozen=True)
class KindSpace:
    """The distributions of one target kind and how many targets to draw."""

    kind: str
    count: int
    parameters: Mapping[str, Distribution]

    def __post_init__(self) -> None:
        missing = set(SAMPLED_PARAMETERS) - set(self.parameters)
        if missing:
            raise InvalidParameterError(f"kind {self.kind!r}: missing parameters {sorted(missing)}")
        if self.count < 0:
            raise InvalidParameterError(f"kind {self.kind!r}: count must be >= 0")
        if self.count > MAX_TARGETS:
            raise InvalidParameterError(
                f"kind {self.kind!r}: count {self.count:g} is above the limit of "
                f"{MAX_TARGETS:,} targets"
            )
        theta = self.parameters["theta"]
        if theta.minimum < 0 or theta.maximum > 90:
            raise InvalidParameterError(f"kind {self.kind!r}: theta must lie within 0-90 deg")
        if self.parameters["alpha"].minimum < 1:
            raise InvalidParameterError(f"kind {self.kind!r}: alpha must be >= 1")
        if self.parameters["Req"].minimum <= 0:
            raise InvalidParameterError(f"kind {self.kind!r}: Req must be > 0 (m)")
        for name, what in (("rho_s", "density"), ("c_s", "sound speed")):
            if self.parameters[name].minimum <= 0:
                raise InvalidParameterError(
                    f"kind {self.kind!r}: {name} (target {what}) must be > 0, "
                    f"got min {self.parameters[name].minimum:g}"
                )
        for name, dist in self.parameters.items():
            if dist.relative and dist.same_factor_as is None and name not in TIEABLE:
                raise InvalidParameterError(
                    f"kind {self.kind!r}: {name} cannot be relative; only rho_s and c_s are "
                    "multiples of the water's values"
                )
            other = dist.same_factor_as
            if other is None:
                continue
            if TIEABLE.get(name) != other:
                raise InvalidParameterError(
                    f"kind {self.kind!r}: {name} cannot take the factor of {other!r}; only "
                    f"rho_s and c_s can share one"
                )
            if self.parameters[other].same_factor_as is not None:
                raise InvalidParameterError(
                    f"kind {self.kind!r}: rho_s and c_s cannot both take the other's factor"
                )


@dataclass(frozen=True)
class ParameterSpace:
    """Frequencies (Hz), water properties and the target kinds to draw."""

    frequency: np.ndarray
    kinds: tuple[KindSpace, ...]
    rho_w: float = WATER_DENSITY
    c_w: float = WATER_SOUND_SPEED
    name: str = "custom"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        water = ((self.rho_w, "water density rho_w"), (self.c_w, "water sound speed c_w"))
        for value, name in water:
            if not (np.isfinite(value) and value > 0):
                raise InvalidParameterError(f"{name} must be a finite number > 0, got {value!r}")
        n_f = int(np.size(self.frequency))
        if n_f > MAX_FREQUENCIES:
            raise InvalidParameterError(
                f"the frequency grid has {n_f:,} points, above the limit of {MAX_FREQUENCIES:,}"
            )
        if self.n_targets > MAX_TARGETS:
            raise InvalidParameterError(
                f"the space has {self.n_targets:,} targets, above the limit of {MAX_TARGETS:,}"
            )
        if self.n_targets * n_f > MAX_VALUES:
            raise InvalidParameterError(
                f"{self.n_targets:,} targets x {n_f:,} frequencies = "
                f"{self.n_targets * n_f:,} TS values, above the limit of {MAX_VALUES:,}"
            )

    @property
    def n_targets(self) -> int:
        return sum(k.count for k in self.kinds)

    def with_total(self, n: int) -> ParameterSpace:
        """The same space with ``n`` targets split over the kinds in proportion
        (remainders to the first kinds)."""
        if n < 1:
            raise InvalidParameterError(f"--n must be at least 1, got {n}")
        if n > MAX_TARGETS:
            raise InvalidParameterError(f"--n {n:,} is above the limit of {MAX_TARGETS:,} targets")
        total = self.n_targets or 1
        weights = [k.count / total if self.n_targets else 1 / len(self.kinds) for k in self.kinds]
        counts = [int(np.floor(n * w)) for w in weights]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        kinds = tuple(KindSpace(k.kind, c, k.parameters) for k, c in zip(self.kinds, counts))
        return ParameterSpace(self.frequency, kinds, self.rho_w, self.c_w, self.name, self.extra)

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description (stored in output attrs, hashed for resume)."""
        f = self.frequency
        return {
            "name": self.name,
            "frequency_hz": {
                "n": int(f.size),
                "min": float(f.min()),
                "max": float(f.max()),
                "sha1": hashlib.sha1(f.astype("<f8").tobytes()).hexdigest(),
            },
            "rho_w": self.rho_w,
            "c_w": self.c_w,
            "kinds": [
                {
                    "kind": k.kind,
                    "count": k.count,
                    "parameters": {p: d.describe() for p, d in k.parameters.items()},
                }
                for k in self.kinds
            ],
        }

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()


def frequency_grid(start: float, stop: float, step: float) -> np.ndarray:
    """Frequencies (Hz) from ``start`` to ``stop`` inclusive in ``step`` (all Hz); at most
    :data:`MAX_FREQUENCIES` points (checked before the grid is made)."""
    finite = all(np.isfinite(v) for v in (start, stop, step))
    if not finite or step <= 0 or stop < start or start <= 0:
        raise InvalidParameterError(
            f"bad frequency grid: start {start:g} Hz, stop {stop:g} Hz, step {step:g} Hz"
        )
    n_float = np.floor((stop - start) / step + 1e-9) + 1
    if n_float > MAX_FREQUENCIES:
        raise InvalidParameterError(
            f"a frequency grid from {start / 1e3:g} to {stop / 1e3:g} kHz in {step / 1e3:g} kHz "
            f"steps has {n_float:,.0f} points, above the limit of {MAX_FREQUENCIES:,}"
        )
    n = int(n_float)
    return start + step * np.arange(n, dtype=np.float64)


def parse_bands(text: str, step_hz: float) -> np.ndarray:
    """Parse ``"34-45,55-90 kHz"`` (or Hz) into the union of inclusive grids, in Hz."""
    m = re.fullmatch(r"\s*([0-9.,\s\-]+?)\s*(khz|hz)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise InvalidParameterError(f"cannot parse frequency bands {text!r}")
    scale = 1.0 if (m.group(2) or "khz").lower() == "hz" else 1e3
    grids = []
    for part in m.group(1).split(","):
        lo_hi = [s.strip() for s in part.split("-")]
        if len(lo_hi) != 2 or not all(lo_hi):
            raise InvalidParameterError(f"cannot parse frequency band {part.strip()!r} in {text!r}")
        try:
            lo, hi = (float(v) * scale for v in lo_hi)
        except ValueError as exc:
            raise InvalidParameterError(
                f"cannot parse frequency band {part.strip()!r} in {text!r}"
            ) from exc
        grids.append(frequency_grid(lo, hi, step_hz))
    return np.unique(np.round(np.concatenate(grids), 6))


def table1_space(n_gas: int = 15_000, n_liquid: int = 15_000) -> ParameterSpace:
    """Table I of the paper: the default 30,000-spectrum space."""
    angle = Distribution(0.01, 90.0)
    alpha = Distribution(1.05, 8.0)
    gas = KindSpace(
        "gas",
        n_gas,
        {
            "Req": Distribution(0.1e-3, 5e-3),
            "alpha": alpha,
            "rho_s": Distribution(2.0, 80.0),
            "c_s": Distribution.fixed(GAS_SOUND_SPEED),
            "theta": angle,
        },
    )
    liquid = KindSpace(
        "liquid",
        n_liquid,
        {
            "Req": Distribution(5e-3, 20e-3),
            "alpha": alpha,
            "rho_s": Distribution(1.01, 1.07, relative=True),
            "c_s": Distribution(1.01, 1.07, relative=True),
            "theta": angle,
        },
    )
    return ParameterSpace(frequency_grid(10e3, 260e3, 500.0), (gas, liquid), name="table-1")


def sample_parameters(space: ParameterSpace, seed: int) -> dict[str, np.ndarray]:
    """Draw every target's parameters from ``space`` with ``numpy.random.default_rng(seed)``.

    Returns per-target arrays: kind, Req, alpha, a, b (m), theta (deg), rho_s, c_s, rho_w,
    c_w. The same space and seed give the same arrays, bit for bit.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in (*SAMPLED_PARAMETERS, "kind")}
    scale = {"rho_s": space.rho_w, "c_s": space.c_w}
    for ks in space.kinds:
        drawn = {
            p: ks.parameters[p].sample(rng, ks.count, scale.get(p, 1.0)) for p in SAMPLED_PARAMETERS
        }
        for p, dist in ks.parameters.items():
            if dist.same_factor_as is not None:
                other = dist.same_factor_as
                drawn[p] = drawn[other] / scale[other] * scale[p]
        for p in SAMPLED_PARAMETERS:
            columns[p].append(drawn[p])
        columns["kind"].append(np.full(ks.count, ks.kind, dtype=object))
    out = {k: np.concatenate(v) if v else np.empty(0) for k, v in columns.items()}
    out["b"] = out["Req"] / np.cbrt(out["alpha"])
    out["a"] = out["alpha"] * out["b"]
    n = out["Req"].size
    out["rho_w"] = np.full(n, space.rho_w)
    out["c_w"] = np.full(n, space.c_w)
    return out


def _distribution(kind: str, name: str, value: Any) -> Distribution:
    """A parameter's distribution from its (schema-checked) TOML value."""
    where = f"kinds.{kind}.{name}"
    if not isinstance(value, Mapping):
        return Distribution.fixed(float(value))
    if "same_factor_as" in value:
        return Distribution.tied(str(value["same_factor_as"]))
    relative = bool(value.get("relative", False))
    try:
        if "value" in value:
            v = float(value["value"])
            return Distribution(v, v, relative=relative)
        return Distribution(
            float(value["min"]),
            float(value["max"]),
            str(value.get("distribution", "uniform")),
            relative,
        )
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{where}: {exc}") from exc


def space_from_mapping(cfg: Mapping[str, Any], name: str = "custom") -> ParameterSpace:
    """Build a space from a parsed TOML mapping; unspecified items default to Table I.

    The mapping is checked against the schema first (:mod:`ts_toolkit.space_schema`)."""
    check_space_config(cfg)
    default = table1_space()
    freq_cfg = cfg.get("frequency", {})
    step = float(freq_cfg.get("step", 0.5)) * 1e3
    if "bands" in freq_cfg:
        frequency = parse_bands(str(freq_cfg["bands"]), step)
    elif "start" in freq_cfg or "stop" in freq_cfg:
        frequency = frequency_grid(
            float(freq_cfg.get("start", 10)) * 1e3, float(freq_cfg.get("stop", 260)) * 1e3, step
        )
    else:
        frequency = frequency_grid(10e3, 260e3, step)
    water = cfg.get("water", {})
    kinds_cfg = cfg.get("kinds")
    if kinds_cfg is None:
        kinds_cfg = {k.kind: {} for k in default.kinds}
    if not isinstance(kinds_cfg, Mapping) or not kinds_cfg:
        raise InvalidParameterError("[kinds] must name at least one target kind")
    defaults = {k.kind: k for k in default.kinds}
    kinds = []
    for kind, kcfg in kinds_cfg.items():
        params = dict(defaults[kind].parameters)
        for p in SAMPLED_PARAMETERS:
            if p in kcfg:
                params[p] = _distribution(kind, p, kcfg[p])
        kinds.append(KindSpace(kind, int(kcfg.get("count", defaults[kind].count)), params))
    return ParameterSpace(
        frequency,
        tuple(kinds),
        rho_w=float(water.get("rho", WATER_DENSITY)),
        c_w=float(water.get("c", WATER_SOUND_SPEED)),
        name=name,
        extra={"seed": int(cfg["seed"])} if "seed" in cfg else {},
    )


def load_space(path: str | Path) -> ParameterSpace:
    """Read a parameter space from a TOML file (one-line errors for bad files)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"parameter-space file not found: {p}")
    try:
        cfg = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot parse {p} as TOML: {exc}") from exc
    try:
        return space_from_mapping(cfg, name=p.stem)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{p}: {exc}") from exc
