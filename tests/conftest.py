"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The command line is built once per process, with every installed plugin's commands, as
# when ts-toolkit runs; import it before any test restricts TS_TOOLKIT_PLUGINS.
os.environ.pop("TS_TOOLKIT_PLUGINS", None)
import ts_toolkit.cli  # noqa: E402, F401

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The project's ../shared folder; tests needing it skip with a reason when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared reference folder not found at {SHARED}")
    return SHARED


@pytest.fixture(autouse=True)
def _fresh_plugin_registry(monkeypatch):
    """Each test starts with a registry freshly loaded from entry points."""
    from ts_toolkit import plugins

    monkeypatch.delenv(plugins.ENV_VAR, raising=False)
    plugins.reset_registry()
    yield
    plugins.reset_registry()


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    """Each test starts with no model loaded in this process (batch's worker cache): tests
    replace the model loader."""
    from ts_toolkit.workercache import clear_cache

    clear_cache()
    yield
    clear_cache()
