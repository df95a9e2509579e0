"""Plugin options declared once, as a dataclass, and validated and listed generically.

A plugin (a Source's reading options, a Classifier's training options) declares its
options as a dataclass whose fields carry a default and help text::

    @dataclass(frozen=True)
    class MyOptions:
        min_ts: float = option(-50.0, "Minimum TS at the centre frequency.", unit="dB")
        channels: tuple[str, ...] | None = option(None, "Only these channel ids.")

:func:`build_options` turns keyword values (Python values, or text from the command line
such as ``"-60"``, ``"true"``, ``"a,b"``) into an instance, with a one-line error naming an
unknown option (and the nearest known one) or a value of the wrong type;
:func:`describe_options` lists them for ``ts-toolkit plugins --options NAME``.
Supported field types: ``bool``, ``int``, ``float``, ``str``, ``tuple[str, ...]``,
``tuple[float, ...]`` and any of these ``| None``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidParameterError

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def option(default: Any, help: str, *, unit: str = "") -> Any:
    """A dataclass field with its default, help text and unit (for listing)."""
    return dataclasses.field(default=default, metadata={"help": help, "unit": unit})


@dataclass(frozen=True)
class OptionInfo:
    """One declared option, as listed to users."""

    name: str
    type: str
    default: Any
    help: str
    unit: str


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, whether None is allowed) of ``X | None`` (``X`` may itself be a union
    such as ``str | float``)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = tuple(a for a in typing.get_args(tp) if a is not type(None))
        optional = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else typing.Union[args]), optional  # noqa: UP007
    return tp, False


def type_name(tp: Any) -> str:
    """A short readable name of a supported option type."""
    inner, optional = _split_optional(tp)
    if typing.get_origin(inner) in (tuple, list):
        (item, *_) = typing.get_args(inner) or (str,)
        text = f"list of {getattr(item, '__name__', str(item))}"
    elif typing.get_origin(inner) in (typing.Union, types.UnionType):
        text = " or ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(inner))
    else:
        text = getattr(inner, "__name__", str(inner))
    return f"{text} or none" if optional else text


def _convert(value: Any, tp: Any, where: str) -> Any:
    inner, optional = _split_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if optional:
            return None
        raise InvalidParameterError(f"{where} must not be empty")
    origin = typing.get_origin(inner)
    if origin in (typing.Union, types.UnionType):  # e.g. str | float: numbers first
        members = sorted(typing.get_args(inner), key=lambda a: a is str)
        for member in members:
            try:
                return _convert(value, member, where)
            except InvalidParameterError:
                continue
        raise InvalidParameterError(f"{where} must be {type_name(inner)}, got {value!r}")
    if origin in (tuple, list):
        (item, *_) = typing.get_args(inner) or (str,)
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, Iterable):
            raise InvalidParameterError(f"{where} must be a list, got {value!r}")
        return tuple(_convert(v.strip() if isinstance(v, str) else v, item, where) for v in items)
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise InvalidParameterError(f"{where} must be true or false, got {value!r}")
    if inner is int:
        if isinstance(value, bool):
            raise InvalidParameterError(f"{where} must be a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number == int(number)):
            raise InvalidParameterError(f"{where} must be a whole number, got {value!r}")
        return int(number)
    if inner is float:
        if isinstance(value, bool):
            raise InvalidParameterError(f"{where} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{where} must be a number, got {value!r}") from None
        if math.isnan(number):
            raise InvalidParameterError(f"{where} must be a number, got {value!r}")
        return number
    if inner is str:
        return str(value)
    raise TypeError(f"unsupported option type {tp!r} in {where}")  # a plugin bug


def unknown_name_error(name: str, known: Iterable[str], owner: str) -> InvalidParameterError:
    """The one-line error for an unknown option ``name``, suggesting the nearest known one."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return InvalidParameterError(f"unknown {owner} option {name!r}{hint}")


def build_options(cls: type, values: Mapping[str, Any], owner: str) -> Any:
    """An instance of the options dataclass ``cls`` from ``values`` (Python or text).

    ``owner`` names the plugin in error messages (e.g. ``"ek80"``). Names may use
    ``-`` for ``_``. Unknown names and values of the wrong type raise
    :class:`InvalidParameterError`; so does the dataclass's own ``__post_init__`` check.
    """
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    converted: dict[str, Any] = {}
    for raw_name, value in values.items():
        name = raw_name.replace("-", "_")
        if name not in names:
            raise unknown_name_error(name, names, owner)
        converted[name] = _convert(value, hints[name], f"{owner}: {name}")
    try:
        return cls(**converted)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidParameterError):
            raise
        raise InvalidParameterError(f"{owner}: {exc}") from exc


def describe_options(cls: type) -> list[OptionInfo]:
    """Every option of the dataclass ``cls``: name, type, default, help and unit."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(
            OptionInfo(
                f.name,
                type_name(hints[f.name]),
                default,
                str(f.metadata.get("help", "")),
                str(f.metadata.get("unit", "")),
            )
        )
    return out


def parse_pairs(items: Iterable[str], flag: str) -> dict[str, str]:
    """``["min_ts=-60", "merge=false"]`` → ``{"min_ts": "-60", "merge": "false"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InvalidParameterError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value.strip()
    return out


@dataclass(frozen=True)
class NoOptions:
    """The options of a plugin that takes none."""
