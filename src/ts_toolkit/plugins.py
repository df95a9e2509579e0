"""The plugin manager: entry-point group ``ts_toolkit``, lazy loading, lookups, listing.

Built-in plugins are found exactly like third-party ones: through the ``ts_toolkit``
entry-point group of installed distributions. Set ``TS_TOOLKIT_PLUGINS`` to a
comma-separated list of entry-point names to load only those (an empty value loads none).

Plugins register *classes*; :func:`get_simulator`, :func:`get_classifier` and
:func:`get_source` instantiate the class registered under a name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import InputFileError, PluginNotFoundError, TsToolkitError

ENV_VAR = "TS_TOOLKIT_PLUGINS"
ENTRY_POINT_GROUP = "ts_toolkit"
KINDS = ("simulator", "classifier", "source")
_HOOK_FOR_KIND = {
    "simulator": "register_simulators",
    "classifier": "register_classifiers",
    "source": "register_sources",
}


@dataclass(frozen=True)
class PluginEntry:
    """One registered component: its name and kind, its class, and where it comes from."""

    name: str
    kind: str
    factory: Any
    plugin: str
    package: str
    version: str

    @property
    def description(self) -> str:
        doc = (getattr(self.factory, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


class PluginRegistry:
    """A pluggy PluginManager plus the components its plugins registered."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._dist: dict[str, tuple[str, str]] = {}
        self._entries: dict[str, dict[str, PluginEntry]] | None = None
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        allowed = os.environ.get(ENV_VAR)
        allow = None if allowed is None else {s.strip() for s in allowed.split(",") if s.strip()}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if allow is not None and ep.name not in allow:
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not break the tool
                raise TsToolkitError(
                    f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
                ) from exc
            dist = ep.dist
            self.register_plugin(
                module,
                name=ep.name,
                package=dist.name if dist else "?",
                version=dist.version if dist else "?",
            )

    def register_plugin(
        self, plugin: ModuleType | object, name: str, package: str = "?", version: str = "?"
    ) -> None:
        """Register a plugin module or object by hand (tests, notebooks)."""
        self.pm.register(plugin, name=name)
        self._dist[name] = (package, version)
        self._entries = None

    def unregister_plugin(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._dist.pop(name, None)
        self._entries = None

    def entries(self, kind: str) -> dict[str, PluginEntry]:
        """All components of ``kind`` ("simulator", "classifier" or "source") by name."""
        if self._entries is None:
            self._entries = {k: self._collect(k) for k in KINDS}
        return self._entries[kind]

    def _collect(self, kind: str) -> dict[str, PluginEntry]:
        found: dict[str, PluginEntry] = {}
        hook = getattr(self.pm.hook, _HOOK_FOR_KIND[kind])
        for impl in hook.get_hookimpls():
            package, version = self._dist.get(impl.plugin_name, ("?", "?"))

            def register(
                factory: Any,
                _plugin: str = impl.plugin_name,
                _package: str = package,
                _version: str = version,
            ) -> None:
                name = getattr(factory, "name", None)
                if not isinstance(name, str) or not name:
                    raise TsToolkitError(
                        f"plugin {_plugin!r} registered a {kind} without a 'name' attribute"
                    )
                if name in found:
                    other = found[name].plugin
                    raise TsToolkitError(
                        f"{kind} name {name!r} is registered twice (plugins {other!r} and "
                        f"{_plugin!r})"
                    )
                found[name] = PluginEntry(name, kind, factory, _plugin, _package, _version)

            impl.function(register=register)
        return dict(sorted(found.items()))

    def get(self, kind: str, name: str, **options: Any) -> Any:
        entries = self.entries(kind)
        if name not in entries:
            available = ", ".join(entries) or "none installed"
            raise PluginNotFoundError(f"unknown {kind} {name!r}; available: {available}")
        return entries[name].factory(**options)


_registry: PluginRegistry | None = None


def registry() -> PluginRegistry:
    """The process-wide registry, loading entry points on first use."""
    global _registry
    if _registry is None:
        _registry = PluginRegistry()
    return _registry


def reset_registry() -> None:
    """Forget loaded plugins (the next lookup reloads entry points)."""
    global _registry
    _registry = None


def get_simulator(name: str, **options: Any) -> Any:
    """An instance of the Simulator registered as ``name``."""
    return registry().get("simulator", name, **options)


def get_classifier(name: str, **options: Any) -> Any:
    """A new (unfitted) instance of the Classifier registered as ``name``."""
    return registry().get("classifier", name, **options)


def get_classifier_class(name: str) -> Any:
    """The Classifier class registered as ``name`` (for ``load``)."""
    entries = registry().entries("classifier")
    if name not in entries:
        available = ", ".join(entries) or "none installed"
        raise PluginNotFoundError(f"unknown classifier {name!r}; available: {available}")
    return entries[name].factory


def get_source(name: str, **options: Any) -> Any:
    """An instance of the Source registered as ``name``."""
    return registry().get("source", name, **options)


def source_for(path: str | Path) -> Any:
    """The first installed Source whose ``can_open(path)`` is true."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"file not found: {p}")
    if not p.is_file():
        raise InputFileError(f"not a file: {p}")
    entries = registry().entries("source")
    for entry in entries.values():
        source = entry.factory()
        if source.can_open(p):
            return source
    names = ", ".join(entries) or "none installed"
    raise InputFileError(f"no installed source can read {p} (sources: {names})")


def list_plugins() -> list[PluginEntry]:
    """Every registered component, simulators first, then classifiers and sources."""
    reg = registry()
    return [e for kind in KINDS for e in reg.entries(kind).values()]
