"""Batch processing of a cruise: many data files -> one table of classified targets.

Each input file is one dask task (local cluster by default, or a ``dask.distributed``
scheduler address). The driver writes every finished file's result to
``<out>.work/`` at once: a NetCDF of that file's targets (spectra on the model grid plus
predictions) and a JSON status record (ok or failed with the reason, targets found, seconds,
bytes). Re-running the same command skips files already recorded, so an interrupted batch
resumes and ends with the same output as an uninterrupted one. A file that fails (corrupt,
no FM data, no targets) is recorded with its reason and never stops the batch.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .checks import check_scheduler, check_workers
from .cluster import dask_client
from .errors import InputFileError, OutputPathError, TsToolkitError
from .locks import holds_output_lock
from .outputs import atomic_output, check_outputs, refuse_inputs, write_text_atomic
from .spectra import now_iso, provenance, read_spectra, write_spectra
from .workercache import ModelRef, cached_model


@dataclass
class FileOutcome:
    """What happened to one input file."""

    path: str
    status: str  # "ok" | "failed"
    reason: str
    n_targets: int
    seconds: float
    size_bytes: int
    warnings: list[str] = field(default_factory=list)  # e.g. pings dropped from a damaged file
    n_tracks: int | None = None  # tracks found (None: the batch did not track)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1)


@dataclass
class BatchReport:
    out: Path
    outcomes: list[FileOutcome]
    skipped: int
    wall_time_s: float
    unreadable: list[Path] = field(default_factory=list)
    already_complete: bool = False  # a finished batch re-run: nothing was done
    tracked: bool = False  # targets were followed through pings (--tracks)
    model_path: str | None = None  # the model file the batch classified with

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]

    @property
    def n_targets(self) -> int:
        return sum(o.n_targets for o in self.outcomes)

    @property
    def n_tracks(self) -> int:
        return sum(o.n_tracks or 0 for o in self.outcomes)


@dataclass
class FileData:
    """One file's results: its targets (spectra on the model grid + predictions, and each
    target's ``track`` when the batch tracks) and, when the batch tracks and found any, its
    tracks (one row per track: averaged TS(f), ``TS_spread``, predictions, per-ping
    consensus; :mod:`ts_toolkit.batch_tracks`)."""

    targets: xr.Dataset
    tracks: xr.Dataset | None = None


def data_suffixes() -> tuple[str, ...]:
    """File-name endings of the data files the installed sources read (e.g. ``.raw``)."""
    from .plugins import sources

    return tuple(sorted({s.lower() for src in sources() for s in getattr(src, "suffixes", ())}))


def _search(folder: Path, installed: list[Any], suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Data inputs under ``folder`` (recursively, in name order): files with a data suffix,
    and directories with one that a source reads as one input (a store such as ``.zarr``,
    not searched inside). Other files with a data suffix are yielded too; the caller sorts
    out which a source reads."""
    from .plugins import can_open

    for root, dirs, files in os.walk(folder):
        here = Path(root)
        keep = []
        for name in sorted(dirs):
            q = here / name
            if name.lower().endswith(suffixes) and any(can_open(s, q) for s in installed):
                yield q
            else:
                keep.append(name)
        dirs[:] = keep  # do not descend into a store
        for name in sorted(files):
            if name.lower().endswith(suffixes):
                yield here / name


def input_size(path: str | Path) -> int:
    """Bytes of a data input: a file's size, or the sum over a store directory's files."""
    p = Path(path)
    if p.is_dir():
        return sum(q.stat().st_size for q in p.rglob("*") if q.is_file())
    return p.stat().st_size if p.exists() else 0


def collect_inputs(
    inputs: Iterable[str | Path], unreadable: list[Path] | None = None
) -> list[Path]:
    """Expand files, directories and glob patterns into data inputs.

    A directory that an installed source reads as one input (a store such as ``.zarr``) is
    that input. Any other directory is searched recursively for files (and such stores)
    with the installed sources' suffixes that one of those sources can open; the others
    found there (e.g. a ``.csv`` table no source reads) are appended to ``unreadable`` when
    given. Files named explicitly or by a pattern are all kept: one no source reads then
    fails with its reason."""
    from .plugins import can_open, sources

    found: list[Path] = []
    installed = sources()
    suffixes = data_suffixes()
    for item in inputs:
        text = str(item)
        p = Path(text)
        if p.is_dir() and any(can_open(src, p) for src in installed):
            found.append(p)
        elif p.is_dir():
            for q in _search(p, installed, suffixes):
                if q.is_dir() or any(can_open(src, q) for src in installed):
                    found.append(q)
                elif unreadable is not None:
                    unreadable.append(q.resolve())
        elif p.is_file():
            found.append(p)
        elif glob.has_magic(text):
            matches = [Path(m) for m in glob.glob(text, recursive=True)]
            found += [
                m
                for m in matches
                if m.is_file() or (m.is_dir() and any(can_open(s, m) for s in installed))
            ]
            if not matches:
                raise InputFileError(f"no files match {text}")
        else:
            raise InputFileError(f"file or directory not found: {text}")
    unique = sorted({q.resolve() for q in found})
    if not unique:
        kinds = ", ".join(suffixes) or "none: no source installed"
        raise InputFileError(f"no data files found in the given inputs (file types: {kinds})")
    return unique


def _key(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"{path.stem}-{digest}"


def process_file(
    path: str, model_path: str | ModelRef, options: dict[str, Any]
) -> tuple[FileOutcome, FileData | None]:
    """Extract, classify and return one file's targets (runs on a dask worker; the model
    is loaded once per worker process, see :mod:`.workercache`).

    Without ``min_ts`` among the source options, the detection threshold is the model's
    (:func:`ts_toolkit.apply.model_detection_threshold`) when its file records one. With
    ``options["tracks"]`` (tracker settings, :func:`ts_toolkit.batch_tracks.tracker_options`)
    the targets are followed through the file's pings and classified per track too; a file
    whose targets cannot be tracked (no ping times or angles) keeps its targets, in no
    track, with a warning."""
    from .apply import model_detection_threshold, predict_spectra
    from .plugins import source_for
    from .spectra import input_warnings

    t0 = time.perf_counter()
    size = input_size(path)
    try:
        model = cached_model(model_path)
        source_options = dict(options.get("source", {}))
        threshold = model_detection_threshold(model)
        if "min_ts" not in source_options and threshold is not None:
            source_options["min_ts"] = threshold[0]
        spectra = source_for(path).open(path, **source_options)
        warns = input_warnings(spectra)
        if spectra.sizes.get("target", 0) == 0:  # empty water is a result, not a failure
            reason = "no single targets detected"
            return FileOutcome(path, "ok", reason, 0, time.perf_counter() - t0, size, warns), None
        ref = model_path if isinstance(model_path, ModelRef) else ModelRef.from_path(model_path)
        predict_options = {
            "allow_partial": options.get("allow_partial", False),
            "model_file": ref.path,
            "model_sha256": ref.sha256,
        }
        settings = options.get("tracks")
        tracks, n_tracks = None, None
        if settings is None:
            result = predict_spectra(model, spectra, **predict_options)
        else:
            name = Path(path).name
            result, tracks, n_tracks = _tracked(
                model, spectra, settings, predict_options, warns, name
            )
    except TsToolkitError as exc:
        reason = " ".join(str(exc).split())
        return FileOutcome(path, "failed", reason, 0, time.perf_counter() - t0, size), None
    except Exception as exc:  # an unexpected bug in one file must not stop the batch
        reason = "unexpected error: " + "".join(traceback.format_exception_only(exc)).strip()
        return FileOutcome(path, "failed", reason, 0, time.perf_counter() - t0, size), None
    n = int(result.sizes["target"])
    outcome = FileOutcome(path, "ok", "", n, time.perf_counter() - t0, size, warns, n_tracks)
    return outcome, FileData(result, tracks)


def _tracked(
    model: Any,
    spectra: xr.Dataset,
    settings: dict[str, Any],
    predict_options: dict[str, Any],
    warns: list[str],
    name: str,
) -> tuple[xr.Dataset, xr.Dataset | None, int]:
    """Predictions per target (with ``track``) and per track, and the number of tracks; a
    file that cannot be tracked: its predictions in no track, and a warning in ``warns``."""
    from .apply import predict_spectra
    from .batch_tracks import track_and_predict, untracked
    from .tracks import TRACK_INPUTS

    missing = [v for v in TRACK_INPUTS if v not in spectra]
    if missing:  # e.g. a source without split-beam angles
        warns.append(f"{name}: not tracked: its targets have no {', '.join(missing)}")
        return untracked(predict_spectra(model, spectra, **predict_options)), None, 0
    result, tracks = track_and_predict(model, spectra, settings, **predict_options)
    return result, tracks, 0 if tracks is None else int(tracks.sizes["target"])


class WorkStore:
    """``<out>.work/``: one NetCDF and one JSON status per processed file."""

    def __init__(self, out: Path) -> None:
        self.dir = out.with_name(out.name + ".work")
        # JSON files not named *.json: those are the per-file statuses
        self.manifest_path = self.dir / "batch.manifest"
        self.complete_path = self.dir / "batch.complete"

    def open(self, manifest: dict[str, Any]) -> None:
        """Create the folder, or check that an existing one holds results of the same model
        and options (a folder from before manifests were written is adopted)."""
        if self.manifest_path.exists():
            if json.loads(self.manifest_path.read_text()) != manifest:
                raise OutputPathError(
                    f"{self.dir} holds results of another model or other options; pass "
                    "--no-resume (and --overwrite) to start over, or choose another --out"
                )
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    def mark_complete(self, outcomes: list[FileOutcome]) -> None:
        """Record that the outputs were combined and reported for exactly these files."""
        keys = sorted(_key(Path(o.path)) for o in outcomes)
        write_text_atomic(self.complete_path, json.dumps({"files": keys}))

    def is_complete(self, files: list[Path], retry_failed: bool) -> bool:
        """Whether a finished batch over ``files`` is on disk: marked complete for these
        files, every file has a status (no failed one when retrying failures), and every
        output written (the NetCDF only when some file had targets)."""
        if not self.complete_path.exists():
            return False
        if json.loads(self.complete_path.read_text()).get("files") != sorted(map(_key, files)):
            return False
        outcomes = [self.load_status(p) for p in files]
        if any(o is None or (retry_failed and o.status != "ok") for o in outcomes):
            return False
        out = self.dir.with_name(self.dir.name.removesuffix(".work"))
        needed = [out.with_name(out.stem + "-files.csv"), out.with_name(out.stem + "-report.md")]
        if any(o.n_targets for o in outcomes if o is not None):
            needed.append(out)
        if any(o.n_tracks for o in outcomes if o is not None):
            needed += tracks_outputs(out)
        return all(p.exists() for p in needed)

    def tracker(self) -> dict[str, Any] | None:
        """The tracker settings this batch was started with (None: it does not track)."""
        if not self.manifest_path.exists():
            return None
        return json.loads(self.manifest_path.read_text()).get("options", {}).get("tracks")

    def status_path(self, path: Path) -> Path:
        return self.dir / f"{_key(path)}.json"

    def data_path(self, path: Path) -> Path:
        return self.dir / f"{_key(path)}.nc"

    def tracks_path(self, path: Path) -> Path:
        return self.dir / f"{_key(path)}.tracks.nc"

    def load_status(self, path: Path) -> FileOutcome | None:
        sp = self.status_path(path)
        if not sp.exists():
            return None
        return FileOutcome(**json.loads(sp.read_text()))

    def save(self, path: Path, outcome: FileOutcome, data: FileData | None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if data is not None:
            write_spectra(data.targets, self.data_path(path))
            if data.tracks is not None:
                write_spectra(data.tracks, self.tracks_path(path))
        # the status is written last: it marks the file as done
        write_text_atomic(self.status_path(path), outcome.to_json())


def _run(
    tasks: list[Path], model_path: str, options: dict[str, Any], scheduler: str | None, workers: int
) -> Iterator[tuple[Path, FileOutcome, FileData | None]]:
    if scheduler == "synchronous":
        for p in tasks:
            outcome, data = process_file(str(p), model_path, options)
            yield p, outcome, data
        return
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        # the model's bytes go to every worker once; each loads it once (workercache)
        ref = client.scatter(ModelRef.from_path(model_path, embed=True), broadcast=True)
        futures = {client.submit(process_file, str(p), ref, options, pure=False): p for p in tasks}
        for fut in as_completed(futures):
            p = futures[fut]
            if fut.status == "finished":
                outcome, data = fut.result()
            else:  # the worker itself died (e.g. out of memory)
                reason = (
                    "worker failed: "
                    + "".join(traceback.format_exception_only(fut.exception())).strip()
                )
                outcome, data = FileOutcome(str(p), "failed", reason, 0, 0.0, 0), None
            yield p, outcome, data


@holds_output_lock("out")  # a second run on the same output is refused
def run_batch(
    inputs: Iterable[str | Path],
    model_path: str | Path,
    out: str | Path,
    scheduler: str | None = None,
    workers: int | None = None,
    options: dict[str, Any] | None = None,
    retry_failed: bool = False,
    on_file: Callable[[FileOutcome, int, int], None] | None = None,
    overwrite: bool = False,
) -> BatchReport:
    """Process every input file, then combine the results into ``out`` and a CSV summary.

    Outputs (:func:`batch_outputs`) may not be input files. Existing outputs are refused
    unless ``overwrite`` or they belong to this batch (its ``<out>.work/`` folder exists).
    A batch already complete (same model, options and files) does nothing and returns a
    report with ``already_complete`` set.
    """
    out = Path(out)
    check_workers(workers)
    check_scheduler(scheduler)
    if out.suffix.lower() in (".csv", ".md", ".png"):
        raise OutputPathError(f"--out {out}: the combined output is NetCDF (.nc); not {out.suffix}")
    options = options or {}
    tracked = options.get("tracks") is not None
    unreadable: list[Path] = []
    files = collect_inputs(inputs, unreadable)
    refuse_inputs([*batch_outputs(out, tracks=True), WorkStore(out).dir], [*files, str(model_path)])
    cached_model(model_path)  # a bad model is a user error before any work starts
    model_path = str(Path(model_path).absolute())  # workers may run in other folders
    check_source_options(files, options.get("source", {}))
    store = WorkStore(out)
    if not store.dir.exists():
        check_outputs(batch_outputs(out, tracks=tracked), overwrite=overwrite)
    store.open(_manifest(model_path, options))
    if store.is_complete(files, retry_failed):
        outcomes = [o for o in (store.load_status(p) for p in files) if o]
        return BatchReport(
            out,
            outcomes,
            len(files),
            0.0,
            already_complete=True,
            tracked=tracked,
            model_path=model_path,
        )
    todo, skipped = [], 0
    for p in files:
        prior = store.load_status(p)
        if prior is not None and (prior.status == "ok" or not retry_failed):
            skipped += 1
        else:
            todo.append(p)
    t0 = time.perf_counter()
    done = 0
    results = _run(todo, model_path, options, scheduler, workers or os.cpu_count() or 1)
    with closing(results):  # an interrupt stops the workers at once
        for p, outcome, data in results:
            store.save(p, outcome, data)
            done += 1
            if on_file is not None:
                on_file(outcome, done, len(todo))
    outcomes = [store.load_status(p) for p in files]
    report = BatchReport(
        out,
        [o for o in outcomes if o is not None],
        skipped,
        time.perf_counter() - t0,
        unreadable,
        tracked=tracked,
        model_path=model_path,
    )
    combine(files, store, out, model_path, tracker=options.get("tracks"))
    return report


def check_source_options(files: list[Path], source_options: dict[str, Any]) -> None:
    """Validate the reading options against every source that will open ``files``, so a
    misspelt option is one error up front, not a failure in every file."""
    from .plugins import sources

    for source in sources():
        if hasattr(source, "options") and any(source.can_open(p) for p in files):
            source.options(**source_options)


def tracks_outputs(out: Path) -> list[Path]:
    """The tracks table of a tracked batch: ``OUT.tracks.nc``, ``OUT.tracks.csv`` and the
    CSV's provenance sidecar."""
    from .conventions import provenance_sidecar

    table = out.with_name(out.stem + ".tracks.csv")
    return [out.with_name(f"{out.stem}.tracks{out.suffix}"), table, provenance_sidecar(table)]


def batch_outputs(out: Path, tracks: bool = False) -> list[Path]:
    """Every file a batch writes: the NetCDF, its per-target CSV, the per-file CSV, the
    report, its size histograms, the HTML report and the CSV's provenance sidecar; with
    ``tracks``, the tracks table too (:func:`tracks_outputs`)."""
    from .conventions import provenance_sidecar

    return [
        out,
        out.with_suffix(".csv"),
        provenance_sidecar(out.with_suffix(".csv")),
        out.with_name(out.stem + "-files.csv"),
        out.with_name(out.stem + "-report.md"),
        out.with_name(out.stem + "-sizes.png"),
        out.with_name(out.stem + "-report.html"),
        *(tracks_outputs(out) if tracks else []),
    ]


def _manifest(model_path: str, options: dict[str, Any]) -> dict[str, Any]:
    """What makes two batches the same job: the model's content and the options."""
    digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    return {"model_sha256": digest, "options": json.loads(json.dumps(options, default=str))}


def combine(
    files: list[Path],
    store: WorkStore,
    out: Path,
    model_path: str,
    tracker: dict[str, Any] | None = None,
) -> None:
    """Concatenate per-file results into ``out`` (NetCDF) and ``out`` .csv summaries; with
    ``tracker`` (the batch tracked its targets) the files' tracks, numbered through the
    batch, into the tracks table (:func:`tracks_outputs`) when any file had tracks."""
    import pandas as pd

    parts, track_parts = [], []
    offset = 0
    for p in files:
        dp = store.data_path(p)
        if dp.exists() and (s := store.load_status(p)) is not None and s.status == "ok":
            part = read_spectra(dp)
            if tracker is not None:
                offset = _number_tracks(store, p, part, s, track_parts, offset)
            parts.append(part)
    status_rows = [store.load_status(p).__dict__ for p in files if store.load_status(p)]
    warnings = [w for r in status_rows for w in r["warnings"]]
    status_rows = [{**r, "warnings": " | ".join(r["warnings"])} for r in status_rows]
    if all(r["n_tracks"] is None for r in status_rows):  # an untracked batch: no column
        status_rows = [{k: v for k, v in r.items() if k != "n_tracks"} for r in status_rows]
    with atomic_output(out.with_name(out.stem + "-files.csv")) as tmp:
        pd.DataFrame(status_rows).to_csv(tmp, index=False)
    ds = _concat(parts)
    inputs = [
        {k: part.attrs[k] for k in ("input_file", "input_sha256") if k in part.attrs}
        for part in parts
    ]
    first = parts[0].attrs if parts else {}
    attrs = provenance(
        title="classified single targets of a cruise",
        model=model_path,
        n_files=len(files),
        n_failed_files=sum(r["status"] != "ok" for r in status_rows),
        warnings=warnings,
        input_files=inputs,
        history=f"ts-toolkit batch of {len(files)} files (at date_created)",
        **{
            k: first[k]
            for k in ("model_settings", "model_sha256", "reader", "reading_options")
            if k in first
        },
    )
    attrs["date_created"] = now_iso()
    if tracker is not None:
        attrs["tracker"] = json.dumps(tracker)
    if ds is not None:
        ds.attrs = attrs
        _write_table(ds, out, out.with_suffix(".csv"))
        tracks = _concat(track_parts)
        if tracker is not None and tracks is not None:
            from .batch_tracks import combined_attrs

            tracks.attrs = combined_attrs(attrs, tracker, ds)
            nc, table, _ = tracks_outputs(out)
            _write_table(tracks, nc, table)


def _number_tracks(
    store: WorkStore,
    path: Path,
    part: xr.Dataset,
    status: FileOutcome,
    track_parts: list[xr.Dataset],
    offset: int,
) -> int:
    """Number one file's tracks (read from the work folder into ``track_parts``) and its
    targets' ``track`` on from ``offset``; return the next file's offset."""
    from .batch_tracks import renumber, untracked

    if "track" not in part:  # not expected (every target of a tracked batch has one)
        part["track"] = untracked(part)["track"]
    tp = store.tracks_path(path)
    tracks = read_spectra(tp) if status.n_tracks and tp.exists() else None
    if tracks is not None:
        track_parts.append(tracks)
    return renumber(part, tracks, offset)


def _concat(parts: list[xr.Dataset]) -> xr.Dataset | None:
    """The parts one after another along ``target`` (renumbered 0, 1, ...); None if none."""
    if not parts:
        return None
    ds = xr.concat(
        parts, dim="target", data_vars="all", coords="minimal", combine_attrs="drop_conflicts"
    )
    return ds.assign_coords(target=np.arange(ds.sizes["target"], dtype=np.int64))


def _write_table(ds: xr.Dataset, nc: Path, table: Path) -> None:
    """``ds`` to NetCDF ``nc`` and its per-target variables to the CSV ``table`` with the
    provenance sidecar (the Dataset's attributes)."""
    from .conventions import write_provenance_sidecar

    write_spectra(ds, nc)
    per_target = [v for v in ds.data_vars if ds[v].dims == ("target",)]
    with atomic_output(table) as tmp:
        ds[per_target].to_dataframe().to_csv(tmp)
    write_provenance_sidecar(table, ds.attrs)
