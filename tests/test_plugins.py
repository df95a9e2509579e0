"""Plugin manager: entry points, restriction by environment, lookups, errors."""

from __future__ import annotations

import types

import pytest

from ts_toolkit import hookimpl
from ts_toolkit.errors import InputFileError, PluginNotFoundError, TsToolkitError
from ts_toolkit.interfaces import Simulator
from ts_toolkit.plugins import (
    ENV_VAR,
    get_classifier,
    get_simulator,
    get_source,
    list_plugins,
    registry,
    source_for,
)


def test_example_third_party_plugin_is_found_through_its_entry_point():
    entries = {e.name: e for e in list_plugins()}
    assert "stanton-sphere" in entries, "install examples/stanton-sphere (make test does)"
    entry = entries["stanton-sphere"]
    assert entry.kind == "simulator"
    assert entry.package == "ts-toolkit-stanton"
    assert entry.plugin == "stanton"
    sim = get_simulator("stanton-sphere")
    assert isinstance(sim, Simulator)
    ts = sim.ts([38e3, 120e3], a=0.001, rho_s=50.0, c_s=343.0)
    assert ts.shape == (2,)
    # a 1 mm gas bubble near resonance-free high-pass region: strong scatterer
    assert -60 < ts[0] < -40


def test_env_var_restricts_loaded_plugins(monkeypatch):
    from ts_toolkit import plugins

    monkeypatch.setenv(ENV_VAR, "")
    plugins.reset_registry()
    assert list_plugins() == []
    monkeypatch.setenv(ENV_VAR, "stanton")
    plugins.reset_registry()
    names = {e.plugin for e in list_plugins()}
    assert names == {"stanton"}


def test_unknown_name_lists_available():
    with pytest.raises(PluginNotFoundError, match=r"unknown simulator 'nope'; available: .*"):
        get_simulator("nope")
    with pytest.raises(PluginNotFoundError, match="unknown classifier 'nope'"):
        get_classifier("nope")
    with pytest.raises(PluginNotFoundError, match="unknown source 'nope'"):
        get_source("nope")


def _fake_plugin(kind_hook: str, *names: str) -> types.SimpleNamespace:
    classes = [type(n.title(), (), {"name": n}) for n in names]

    def hook(register):
        for c in classes:
            register(c)

    ns = types.SimpleNamespace()
    setattr(ns, kind_hook, hookimpl(hook))
    return ns


def test_plugin_registered_by_hand_is_attributed():
    reg = registry()
    reg.register_plugin(
        _fake_plugin("register_sources", "fake-src"),
        name="fakes",
        package="fake-pkg",
        version="9.9",
    )
    entry = reg.entries("source")["fake-src"]
    assert (entry.plugin, entry.package, entry.version) == ("fakes", "fake-pkg", "9.9")


def test_duplicate_names_are_an_error():
    reg = registry()
    reg.register_plugin(_fake_plugin("register_classifiers", "dup"), name="p1")
    reg.register_plugin(_fake_plugin("register_classifiers", "dup"), name="p2")
    with pytest.raises(TsToolkitError, match="registered twice"):
        reg.entries("classifier")


def test_source_for_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        source_for(tmp_path / "missing.raw")


def test_source_for_picks_the_source_that_can_open(tmp_path):
    class TxtSource:
        name = "txt"

        def can_open(self, path):
            return str(path).endswith(".txt")

    ns = types.SimpleNamespace(register_sources=hookimpl(lambda register: register(TxtSource)))
    registry().register_plugin(ns, name="txt-plugin")
    f = tmp_path / "a.txt"
    f.write_text("x")
    assert isinstance(source_for(f), TxtSource)
    g = tmp_path / "a.bin"
    g.write_text("x")
    with pytest.raises(InputFileError, match="no installed source can read"):
        source_for(g)
