"""The model file format (``*.tsm``): one zip archive, safe to load.

Contents:

- ``metadata.json``: ``format`` (``"ts-toolkit-model"``), ``format_version``, the
  ``plugin`` name, the frequency grid (``frequency_hz``), the per-frequency normalisation
  (``features``: mean/std in dB), the target normalisation (``targets``), ``target_names``
  and ``kinds``, the train/validation/test ``split`` (indices, seed, data fingerprint),
  the plugin's ``settings``, ``training`` details, ``training_ts_db`` (the range of the
  training TS values: min, max, percentiles; absent in files written before 2026-12-07,
  see :func:`update_metadata`), library ``versions``, creation time, and the SHA-256 of
  every weights file.
- ``weights/<name>``: the fitted state as the plugin exported it — torch ``state_dict``
  files (loaded with ``weights_only=True``) or skops files (loaded with an explicit list
  of trusted types). Nothing is ever unpickled.

Public API (used by ``predict``, ``batch``, ``evaluate`` and the demo)::

    from ts_toolkit.modelfile import load_model, save_model
    model = load_model("cnn.tsm")   # a Classifier; model.frequency is the grid (Hz)
    model.predict(spectra)          # xarray.Dataset: kind, probability, theta, a, b, Req, alpha

A missing, unreadable, corrupt or tampered file raises :class:`InputFileError` with a
one-line message.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputFileError, TsToolkitError

if TYPE_CHECKING:
    from .learn.base import SpectraLearner

FORMAT = "ts-toolkit-model"
FORMAT_VERSION = 1
METADATA_NAME = "metadata.json"
WEIGHTS_DIR = "weights/"
REQUIRED_KEYS = ("plugin", "frequency_hz", "features", "targets", "settings", "weights")
_LIBRARIES = ("ts-toolkit", "numpy", "scikit-learn", "skops", "torch")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model depends on (those installed)."""
    out = {"python": sys.version.split()[0]}
    for name in _LIBRARIES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_model(model: Any, path: str | Path) -> Path:
    """Write a fitted learner (a :class:`ts_toolkit.learn.SpectraLearner`) to ``path``.

    The file is written to a temporary name first and renamed, so an interrupted save
    never leaves a half-written model behind.
    """
    if not all(hasattr(model, name) for name in ("metadata", "export_weights")):
        raise TsToolkitError(f"cannot save a {type(model).__name__}: not a ts-toolkit learner")
    meta: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    meta.update(model.metadata())
    files = model.export_weights()
    from .spectra import now_iso

    meta["created"] = now_iso()
    meta["versions"] = library_versions()
    meta["weights"] = {name: _sha256(data) for name, data in files.items()}
    return _write(Path(path), meta, files)


def _write(out: Path, meta: Mapping[str, Any], files: Mapping[str, bytes]) -> Path:
    """Write a model file (metadata and weight blobs) to ``out`` atomically (a temporary
    name beside it, then renamed: an interrupted write never leaves half a file)."""
    from .outputs import atomic_output

    try:
        with atomic_output(out) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(METADATA_NAME, json.dumps(meta, indent=1, allow_nan=True))
                for name, data in files.items():
                    zf.writestr(WEIGHTS_DIR + name, data)
    except OSError as exc:
        raise InputFileError(f"cannot write model file {out}: {exc.strerror or exc}") from exc
    return out


def _open(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise InputFileError(f"model file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"model path is not a file: {path}")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{path} is not a ts-toolkit model file (not a zip archive)") from exc
    except OSError as exc:
        raise InputFileError(f"cannot read model file {path}: {exc.strerror or exc}") from exc


def _metadata(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        raw = zf.read(METADATA_NAME)
    except KeyError as exc:
        raise InputFileError(f"{path} is not a ts-toolkit model file (no {METADATA_NAME})") from exc
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"model file {path} is corrupt: {exc}") from exc
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"model file {path} is corrupt: {METADATA_NAME} is not JSON") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputFileError(f"{path} is not a ts-toolkit model file (format is not {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputFileError(
            f"model file {path} has format version {version!r}; this "
            f"ts-toolkit reads up to {FORMAT_VERSION}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise InputFileError(f"model file {path} is corrupt: metadata lacks {missing}")
    return meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a model file (weights not read)."""
    p = Path(path)
    with _open(p) as zf:
        return _metadata(zf, p)


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(metadata, weight blobs by name) of a model file, checking each blob's SHA-256."""
    p = Path(path)
    with _open(p) as zf:
        meta = _metadata(zf, p)
        declared: Mapping[str, str] = meta["weights"]
        stored = {
            n[len(WEIGHTS_DIR) :]
            for n in zf.namelist()
            if n.startswith(WEIGHTS_DIR) and not n.endswith("/")
        }
        if set(declared) != stored:
            raise InputFileError(
                f"model file {p} is corrupt: weights files {sorted(stored)} "
                f"do not match the metadata {sorted(declared)}"
            )
        files: dict[str, bytes] = {}
        for name, digest in declared.items():
            try:
                data = zf.read(WEIGHTS_DIR + name)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise InputFileError(f"model file {p} is corrupt: {exc}") from exc
            if _sha256(data) != digest:
                raise InputFileError(
                    f"model file {p} was modified: checksum of {name!r} does not match its metadata"
                )
            files[name] = data
    return meta, files


def update_metadata(path: str | Path, updates: Mapping[str, Any]) -> Path:
    """Add or replace top-level metadata fields of an existing model file; the weights
    are copied unchanged (and checked against their SHA-256 first). Core fields
    (:data:`REQUIRED_KEYS`, ``format``, ``format_version``) cannot be changed this way.
    Written atomically, like :func:`save_model`."""
    protected = set(REQUIRED_KEYS) | {"format", "format_version"}
    bad = sorted(set(updates) & protected)
    if bad:
        raise TsToolkitError(f"cannot change model-file fields {bad} in place")
    p = Path(path)
    meta, files = read_model_file(p)
    meta.update(updates)
    return _write(p, meta, files)


BUNDLED_MODEL = "default.tsm"


def bundled_model_path() -> Path | None:
    """The model bundled with ts-toolkit (``ts_toolkit/data/default.tsm``), if installed."""
    from importlib import resources

    try:
        candidate = resources.files("ts_toolkit").joinpath("data", BUNDLED_MODEL)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


#: Models bundled with ts-toolkit, by the name ``--model`` accepts: file in ts_toolkit/data.
BUNDLED_MODELS = {"default": BUNDLED_MODEL, "inversion": "inversion.tsm"}


def resolve_model(value: str | Path | None) -> Path:
    """The model file ``value`` names: an existing path, or the name of a bundled model
    (:data:`BUNDLED_MODELS`; None means ``default``). Raises :class:`TsToolkitError` with
    one line when it is neither."""
    from importlib import resources

    from .errors import InputFileError

    name = "default" if value is None else str(value)
    path = Path(name)
    if value is not None and (path.exists() or path.suffix or "/" in name):
        if not path.is_file():
            raise InputFileError(f"model file not found: {path}")
        return path
    if name == "default":
        default = bundled_model_path()
        if default is None:
            raise InputFileError(
                "no model is bundled with this ts-toolkit (ts_toolkit/data/default.tsm); "
                "train one with 'ts-toolkit train' and pass it with --model"
            )
        return default
    if name not in BUNDLED_MODELS:
        raise InputFileError(
            f"--model {name}: no such file, and not a bundled model ({', '.join(BUNDLED_MODELS)})"
        )
    try:
        candidate = Path(str(resources.files("ts_toolkit").joinpath("data", BUNDLED_MODELS[name])))
    except (ModuleNotFoundError, FileNotFoundError):
        candidate = None
    if candidate is None or not candidate.is_file():
        raise InputFileError(
            f"the bundled model {name!r} (ts_toolkit/data/{BUNDLED_MODELS[name]}) is not "
            "installed; train one with 'ts-toolkit train' and pass it with --model"
        )
    return candidate


def load_model(path: str | Path) -> SpectraLearner:
    """Load a model file: find its plugin by name and let the plugin class read it.

    Returns a fitted Classifier whose ``frequency`` (Hz) is the grid it was trained on.
    """
    from .plugins import get_classifier_class

    meta = read_metadata(path)
    cls = get_classifier_class(str(meta["plugin"]))
    return cls.load(path)
