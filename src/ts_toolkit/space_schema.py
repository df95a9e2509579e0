"""The schema of a parameter-space TOML file, checked before anything is built or written.

:func:`check_space_config` walks a parsed TOML mapping and raises
:class:`~ts_toolkit.errors.InvalidParameterError` with one line naming the first problem by
its dotted key (``kinds.gas.count: expected a whole number, got 'ten'``):

- unknown tables and keys, with the nearest valid name (``[frequncy]`` → ``frequency``);
- types: numbers are TOML integers or floats (not strings, not booleans), counts and the
  seed whole numbers, ``relative`` a TOML boolean, ``distribution`` and ``bands`` strings;
- every number finite (no ``nan`` or ``inf``).

Physical ranges (positive densities and sound speeds, 0-90° incidence, ...) and the size
limits (:data:`~ts_toolkit.parameters.MAX_TARGETS` and friends) are checked where the
space is built, in :mod:`ts_toolkit.parameters`, so that spaces made in code obey them too.
The layout is documented in docs/simulate.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .checks import nearest
from .errors import InvalidParameterError

#: The distributions a parameter range can have.
DISTRIBUTIONS = ("uniform", "log-uniform")

#: Top-level keys and tables.
TOP_KEYS = ("seed", "frequency", "water", "kinds")
FREQUENCY_KEYS = ("bands", "start", "stop", "step")
WATER_KEYS = ("rho", "c")
KIND_NAMES = ("gas", "liquid")
PARAMETER_NAMES = ("Req", "alpha", "rho_s", "c_s", "theta")
KIND_KEYS = ("count", *PARAMETER_NAMES)
RANGE_KEYS = ("min", "max", "distribution", "relative")
VALUE_KEYS = ("value", "relative")
TABLE_KEYS = ("min", "max", "value", "distribution", "relative", "same_factor_as")


def _fail(where: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(f"{where}: {message}" if where else message)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_keys(table: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    """Refuse keys not in ``valid``, naming the nearest valid one."""
    unknown = [str(k) for k in table if k not in valid]
    if not unknown:
        return
    first = unknown[0]
    hint = nearest(first, valid)
    if where == "kinds":
        message = f"unknown target kind {first!r} ([kinds.{first}]){hint}; use {' or '.join(valid)}"
    elif not where and isinstance(table[first], Mapping):
        message = f"unknown table [{first}]{hint} (valid: {', '.join(valid)})"
    else:
        prefix = f"{where}: " if where else ""
        message = f"{prefix}unknown keys {sorted(unknown)}{hint} (valid: {', '.join(valid)})"
    raise InvalidParameterError(message)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a table, got {_show(value)}")
    return value


def number(value: Any, where: str) -> float:
    """A finite TOML number (integer or float, not a boolean or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"expected a number, got {_show(value)}")
    if not math.isfinite(value):
        raise _fail(where, f"must be finite, got {value!r}")
    return float(value)


def whole_number(value: Any, where: str) -> int:
    """A whole number: a TOML integer, or a float without a fractional part (``1e6``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"expected a whole number, got {_show(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(where, f"must be finite, got {value!r}")
        if not value.is_integer():
            raise _fail(where, f"expected a whole number, got {value!r}")
    return int(value)


def boolean(value: Any, where: str) -> bool:
    """A TOML boolean (``true``/``false``, not the string ``"false"``)."""
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false (a TOML boolean), got {_show(value)}")
    return value


def string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {_show(value)}")
    return value


def _check_parameter(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        number(value, where)
        return
    _check_keys(value, TABLE_KEYS, where)
    keys = set(value)
    if "same_factor_as" in keys:
        if keys != {"same_factor_as"}:
            raise _fail(where, "same_factor_as stands alone (no min, max, value or relative)")
        other = string(value["same_factor_as"], f"{where}.same_factor_as")
        if other not in PARAMETER_NAMES:
            raise _fail(
                f"{where}.same_factor_as",
                f"unknown parameter {other!r}{nearest(other, PARAMETER_NAMES)}",
            )
        return
    if "value" in keys:
        if keys - set(VALUE_KEYS):
            raise _fail(where, "give either 'value' or 'min' and 'max', not both")
        number(value["value"], f"{where}.value")
    else:
        missing = [k for k in ("min", "max") if k not in keys]
        if missing:
            raise _fail(where, f"needs 'min' and 'max' (or 'value'); {missing[0]!r} is missing")
        number(value["min"], f"{where}.min")
        number(value["max"], f"{where}.max")
    if "distribution" in keys:
        dist = string(value["distribution"], f"{where}.distribution")
        if dist not in DISTRIBUTIONS:
            raise _fail(
                f"{where}.distribution",
                f"unknown distribution {dist!r}{nearest(dist, DISTRIBUTIONS)} "
                f"(valid: {', '.join(DISTRIBUTIONS)})",
            )
    if "relative" in keys:
        boolean(value["relative"], f"{where}.relative")


def check_space_config(cfg: Mapping[str, Any]) -> None:
    """Check a parsed parameter-space mapping against the schema (see the module doc)."""
    _table(cfg, "")
    _check_keys(cfg, TOP_KEYS, "")
    if "seed" in cfg:
        seed = whole_number(cfg["seed"], "seed")
        from .checks import MAX_SEED

        if not 0 <= seed <= MAX_SEED:
            raise _fail("seed", f"must be between 0 and {MAX_SEED}, got {seed}")
    if "frequency" in cfg:
        freq = _table(cfg["frequency"], "frequency")
        _check_keys(freq, FREQUENCY_KEYS, "frequency")
        if "bands" in freq and ("start" in freq or "stop" in freq):
            raise _fail("frequency", "give either 'bands' or 'start'/'stop', not both")
        if "bands" in freq:
            string(freq["bands"], "frequency.bands")
        for key in ("start", "stop", "step"):
            if key in freq:
                number(freq[key], f"frequency.{key}")
    if "water" in cfg:
        water = _table(cfg["water"], "water")
        _check_keys(water, WATER_KEYS, "water")
        for key in WATER_KEYS:
            if key in water:
                number(water[key], f"water.{key}")
    if "kinds" in cfg:
        kinds = _table(cfg["kinds"], "kinds")
        _check_keys(kinds, KIND_NAMES, "kinds")
        for kind, kcfg in kinds.items():
            where = f"kinds.{kind}"
            _table(kcfg, where)
            _check_keys(kcfg, KIND_KEYS, where)
            if "count" in kcfg:
                whole_number(kcfg["count"], f"{where}.count")
            for name in PARAMETER_NAMES:
                if name in kcfg:
                    _check_parameter(kcfg[name], f"{where}.{name}")
