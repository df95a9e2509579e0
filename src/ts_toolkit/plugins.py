"""The plugin manager: entry-point group ``ts_toolkit``, lookups, listing.

Built-in plugins are found exactly like third-party ones: pluggy's
``load_setuptools_entrypoints`` loads the ``ts_toolkit`` entry points of installed
distributions. Set ``TS_TOOLKIT_PLUGINS`` to a comma-separated list of entry-point names
to load only those (an empty value loads none); the others are blocked
(``PluginManager.set_blocked``). A plugin that fails to import, or whose hook fails, is
reported as a :class:`~ts_toolkit.errors.PluginWarning` naming it and its error, and
skipped: one broken third-party package must not stop the tool.

Plugins register *classes*; :func:`get_simulator`, :func:`get_classifier` and
:func:`get_source` instantiate the class registered under a name.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import InputFileError, PluginNotFoundError, PluginWarning, TsToolkitError

if TYPE_CHECKING:
    from .interfaces import Simulator, Source
    from .learn.base import SpectraLearner

ENV_VAR = "TS_TOOLKIT_PLUGINS"
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
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


def allowed_plugins() -> set[str] | None:
    """Entry-point names ``TS_TOOLKIT_PLUGINS`` allows (None: no restriction)."""
    value = os.environ.get(ENV_VAR)
    return None if value is None else {s.strip() for s in value.split(",") if s.strip()}


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=3)


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
        """Load the group's entry points through pluggy; warn about and skip broken ones."""
        allow = allowed_plugins()
        names = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
        for name in names:
            if allow is not None and name not in allow:
                self.pm.set_blocked(name)
        try:
            self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception:  # some plugin is broken: load one by one to name and skip it
            for name in names:
                if self.pm.has_plugin(name) or self.pm.is_blocked(name):
                    continue
                try:
                    self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
                except Exception as exc:
                    _warn(f"plugin {name!r} failed to load and is skipped: {_one_line(exc)}")
                    self.pm.set_blocked(name)
        for plugin, dist in self.pm.list_plugin_distinfo():
            name = self.pm.get_name(plugin)
            if name is not None:
                self._dist[name] = (dist.project_name, dist.version)

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
            added: dict[str, PluginEntry] = {}

            def register(
                factory: Any,
                _plugin: str = impl.plugin_name,
                _package: str = package,
                _version: str = version,
                _added: dict[str, PluginEntry] = added,
            ) -> None:
                name = getattr(factory, "name", None)
                if not isinstance(name, str) or not name:
                    raise TsToolkitError(
                        f"plugin {_plugin!r} registered a {kind} without a 'name' attribute"
                    )
                if name in found or name in _added:
                    other = (found.get(name) or _added[name]).plugin
                    raise TsToolkitError(
                        f"{kind} name {name!r} is registered twice (plugins {other!r} and "
                        f"{_plugin!r})"
                    )
                _added[name] = PluginEntry(name, kind, factory, _plugin, _package, _version)

            try:
                impl.function(register=register)
            except TsToolkitError:
                raise
            except Exception as exc:  # a broken hook: skip what this plugin registers
                _warn(
                    f"plugin {impl.plugin_name!r} failed to register its {kind}s and they are "
                    f"skipped: {_one_line(exc)}"
                )
                continue
            found.update(added)
        return dict(sorted(found.items()))

    def register_commands(self, cli: Any) -> None:
        """Let every plugin add its commands to the CLI object ``cli`` (a typer app)."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                _warn(
                    f"plugin {impl.plugin_name!r} failed to add its commands and they are "
                    f"skipped: {_one_line(exc)}"
                )

    def get(self, kind: str, name: str, **options: Any) -> Any:
        return self.factory(kind, name)(**options)

    def factory(self, kind: str, name: str) -> Any:
        """The class registered as ``name`` for ``kind``; unknown names list the others."""
        entries = self.entries(kind)
        if name not in entries:
            available = ", ".join(entries) or "none installed"
            raise PluginNotFoundError(f"unknown {kind} {name!r}; available: {available}")
        return entries[name].factory


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


def get_simulator(name: str, **options: Any) -> Simulator:
    """An instance of the Simulator registered as ``name``."""
    return registry().get("simulator", name, **options)


def get_classifier(name: str, **options: Any) -> SpectraLearner:
    """A new (unfitted) instance of the Classifier registered as ``name``."""
    return registry().get("classifier", name, **options)


def get_classifier_class(name: str) -> type[SpectraLearner]:
    """The Classifier class registered as ``name`` (for ``load``)."""
    return registry().factory("classifier", name)


def get_source(name: str, **options: Any) -> Source:
    """An instance of the Source registered as ``name``."""
    return registry().get("source", name, **options)


def sources() -> list[Source]:
    """An instance of every installed Source, in name order."""
    return [entry.factory() for entry in registry().entries("source").values()]


def can_open(source: Source, path: Path) -> bool:
    """``source.can_open(path)``, false where the check itself fails on ``path`` (a source
    that expects a file, offered a directory)."""
    try:
        return bool(source.can_open(path))
    except (OSError, ValueError):
        return False


def source_for(path: str | Path) -> Source:
    """The first installed Source whose ``can_open(path)`` is true. ``path`` is a file, or
    a directory that a source reads as one input (a store such as ``.zarr``)."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"file not found: {p}")
    candidates = sources()
    for source in candidates:
        if can_open(source, p):
            return source
    if not p.is_file():
        raise InputFileError(f"not a file: {p} (and no installed source reads it as a store)")
    names = ", ".join(s.name for s in candidates) or "none installed"
    raise InputFileError(f"no installed source can read {p} (sources: {names})")


def source_for_object(obj: Any) -> Source:
    """The first installed Source whose ``can_open_object(obj)`` is true (an in-memory
    dataset of a reader library)."""
    candidates = sources()
    for source in candidates:
        if source.can_open_object(obj):
            return source
    names = ", ".join(s.name for s in candidates) or "none installed"
    raise InputFileError(
        f"no installed source reads a {type(obj).__module__}.{type(obj).__name__} object "
        f"(sources: {names}); pass a data file path"
    )


def list_plugins() -> list[PluginEntry]:
    """Every registered component, simulators first, then classifiers and sources."""
    reg = registry()
    return [e for kind in KINDS for e in reg.entries(kind).values()]
