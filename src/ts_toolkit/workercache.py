"""Models loaded once per process (a dask worker, or the driver), not once per file.

``batch`` runs one task per input file. Loading the model in every task (reading the file,
building the network, importing torch) costs more than a small file's extraction, so each
process keeps the models it loaded, keyed by the model file's SHA-256: the same file, even
at another path, is loaded once; a changed file at the same path is loaded again.

A :class:`ModelRef` names a model by path and checksum and may carry the file's bytes, so
that workers that do not see the driver's files (another machine, another working folder)
can load it: ``batch`` sends it to every worker once (``Client.scatter(broadcast=True)``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputFileError

MAX_MODELS = 2  # models kept per process (least recently used dropped)

_models: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()
_stats = {"loads": 0, "hits": 0}


@dataclass(frozen=True)
class ModelRef:
    """A model file: absolute ``path``, ``sha256`` of its bytes and, optionally, the bytes."""

    path: str
    sha256: str
    data: bytes | None = None

    @classmethod
    def from_path(cls, path: str | Path, embed: bool = False) -> ModelRef:
        """The reference of the model file at ``path`` (with its bytes when ``embed``)."""
        p = Path(path).absolute()
        if not p.is_file():
            raise InputFileError(f"model file not found: {path}")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InputFileError(f"cannot read model file {p}: {exc.strerror or exc}") from exc
        return cls(str(p), hashlib.sha256(data).hexdigest(), data if embed else None)


def cached_model(ref: ModelRef | str | Path) -> Any:
    """The loaded model of ``ref`` (a :class:`ModelRef` or a path), loaded at most once per
    process while it stays among the :data:`MAX_MODELS` most recently used."""
    if not isinstance(ref, ModelRef):
        ref = ModelRef.from_path(ref)
    with _lock:
        model = _models.get(ref.sha256)
        if model is not None:
            _models.move_to_end(ref.sha256)
            _stats["hits"] += 1
            return model
        model = _load(ref)
        _models[ref.sha256] = model
        _stats["loads"] += 1
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)
        return model


def _load(ref: ModelRef) -> Any:
    from .modelfile import load_model

    p = Path(ref.path)
    if ref.data is None:
        return load_model(p)
    if p.is_file() and _sha256_of(p) == ref.sha256:
        return load_model(p)
    # this process does not see the driver's file: load the bytes it was sent
    with tempfile.TemporaryDirectory(prefix="ts-toolkit-model-") as folder:
        local = Path(folder) / p.name
        local.write_bytes(ref.data)
        return load_model(local)


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_info() -> dict[str, int]:
    """Models loaded and cache hits in this process, and its PID (for tests and benches)."""
    with _lock:
        return {**_stats, "models": len(_models), "pid": os.getpid()}


def clear_cache() -> None:
    """Forget every loaded model (tests)."""
    with _lock:
        _models.clear()
        _stats.update(loads=0, hits=0)
