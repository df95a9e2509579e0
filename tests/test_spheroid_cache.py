"""numba's kernel cache is dropped when any kernel source changes (not only the caller's)."""

from __future__ import annotations

from ts_toolkit_plugins.spheroid._kernel_cache import KERNEL_SOURCES, ensure_fresh_cache


def test_cache_dropped_when_a_kernel_source_changes(tmp_path):
    for name in KERNEL_SOURCES:
        (tmp_path / name).write_text(f"# {name}\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "solver.spectrum-1.py311.nbi").write_text("old index")
    (cache / "solver.spectrum-1.py311.1.nbc").write_text("old code")
    (cache / "solver.cpython-311.pyc").write_text("bytecode")

    assert ensure_fresh_cache(tmp_path) is True  # no stamp yet: start clean
    assert not list(cache.glob("*.nb*")) and (cache / "solver.cpython-311.pyc").exists()

    (cache / "solver.spectrum-1.py311.nbi").write_text("fresh index")
    assert ensure_fresh_cache(tmp_path) is False  # same sources: cache kept
    assert (cache / "solver.spectrum-1.py311.nbi").exists()

    (tmp_path / "spheroidal.py").write_text("# changed callee\n")
    assert ensure_fresh_cache(tmp_path) is True  # a callee changed: cache dropped
    assert not (cache / "solver.spectrum-1.py311.nbi").exists()


def test_read_only_folder_is_harmless(tmp_path):
    assert ensure_fresh_cache(tmp_path / "missing") is False
