"""Batch processing of a cruise: many EK80 files -> one table of classified targets.

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

from .cluster import dask_client
from .errors import InputFileError, TsToolkitError
from .locks import holds_output_lock
from .spectra import now_iso, provenance, read_spectra, write_spectra
from .workercache import ModelRef, cached_model

RAW_SUFFIXES = (".raw",)


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

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1)


@dataclass
class BatchReport:
    out: Path
    outcomes: list[FileOutcome]
    skipped: int
    wall_time_s: float

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]

    @property
    def n_targets(self) -> int:
        return sum(o.n_targets for o in self.outcomes)


def collect_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files, directories (recursive) and glob patterns into ``.raw`` files."""
    found: list[Path] = []
    for item in inputs:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            found += [q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in RAW_SUFFIXES]
        elif p.is_file():
            found.append(p)
        elif glob.has_magic(text):
            matches = [Path(m) for m in glob.glob(text, recursive=True)]
            found += [m for m in matches if m.is_file()]
            if not matches:
                raise InputFileError(f"no files match {text}")
        else:
            raise InputFileError(f"file or directory not found: {text}")
    unique = sorted({q.resolve() for q in found})
    if not unique:
        raise InputFileError("no .raw files found in the given inputs")
    return unique


def _key(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"{path.stem}-{digest}"


def process_file(
    path: str, model_path: str | ModelRef, options: dict[str, Any]
) -> tuple[FileOutcome, xr.Dataset | None]:
    """Extract, classify and return one file's targets (runs on a dask worker; the model
    is loaded once per worker process, see :mod:`.workercache`)."""
    from .apply import predict_spectra
    from .plugins import source_for
    from .spectra import input_warnings

    t0 = time.perf_counter()
    size = os.path.getsize(path) if os.path.exists(path) else 0
    try:
        model = cached_model(model_path)
        spectra = source_for(path).open(path, **options.get("source", {}))
        warns = input_warnings(spectra)
        if spectra.sizes.get("target", 0) == 0:  # empty water is a result, not a failure
            reason = "no single targets detected"
            return FileOutcome(path, "ok", reason, 0, time.perf_counter() - t0, size, warns), None
        result = predict_spectra(model, spectra, allow_partial=options.get("allow_partial", False))
    except TsToolkitError as exc:
        reason = " ".join(str(exc).split())
        return FileOutcome(path, "failed", reason, 0, time.perf_counter() - t0, size), None
    except Exception as exc:  # an unexpected bug in one file must not stop the batch
        reason = "unexpected error: " + "".join(traceback.format_exception_only(exc)).strip()
        return FileOutcome(path, "failed", reason, 0, time.perf_counter() - t0, size), None
    n = int(result.sizes["target"])
    return FileOutcome(path, "ok", "", n, time.perf_counter() - t0, size, warns), result


class WorkStore:
    """``<out>.work/``: one NetCDF and one JSON status per processed file."""

    def __init__(self, out: Path) -> None:
        self.dir = out.with_name(out.name + ".work")

    def status_path(self, path: Path) -> Path:
        return self.dir / f"{_key(path)}.json"

    def data_path(self, path: Path) -> Path:
        return self.dir / f"{_key(path)}.nc"

    def load_status(self, path: Path) -> FileOutcome | None:
        sp = self.status_path(path)
        if not sp.exists():
            return None
        return FileOutcome(**json.loads(sp.read_text()))

    def save(self, path: Path, outcome: FileOutcome, data: xr.Dataset | None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if data is not None:
            write_spectra(data, self.data_path(path))
        sp = self.status_path(path)
        tmp = sp.with_name(f".{sp.name}.tmp-{os.getpid()}")
        tmp.write_text(outcome.to_json())
        os.replace(tmp, sp)  # the status is written last: it marks the file as done


def _run(
    tasks: list[Path], model_path: str, options: dict[str, Any], scheduler: str | None, workers: int
) -> Iterator[tuple[Path, FileOutcome, xr.Dataset | None]]:
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
) -> BatchReport:
    """Process every input file, then combine the results into ``out`` and a CSV summary."""
    out = Path(out)
    cached_model(model_path)  # a bad model is a user error before any work starts
    model_path = str(Path(model_path).absolute())  # workers may run in other folders
    files = collect_inputs(inputs)
    store = WorkStore(out)
    todo, skipped = [], 0
    for p in files:
        prior = store.load_status(p)
        if prior is not None and (prior.status == "ok" or not retry_failed):
            skipped += 1
        else:
            todo.append(p)
    t0 = time.perf_counter()
    done = 0
    results = _run(todo, model_path, options or {}, scheduler, workers or os.cpu_count() or 1)
    with closing(results):  # an interrupt stops the workers at once
        for p, outcome, data in results:
            store.save(p, outcome, data)
            done += 1
            if on_file is not None:
                on_file(outcome, done, len(todo))
    outcomes = [store.load_status(p) for p in files]
    report = BatchReport(
        out, [o for o in outcomes if o is not None], skipped, time.perf_counter() - t0
    )
    combine(files, store, out, model_path)
    return report


def combine(files: list[Path], store: WorkStore, out: Path, model_path: str) -> None:
    """Concatenate per-file results into ``out`` (NetCDF) and ``out`` .csv summaries."""
    import pandas as pd

    parts = []
    for p in files:
        dp = store.data_path(p)
        if dp.exists() and (s := store.load_status(p)) is not None and s.status == "ok":
            parts.append(read_spectra(dp))
    status_rows = [store.load_status(p).__dict__ for p in files if store.load_status(p)]
    warnings = [w for r in status_rows for w in r["warnings"]]
    status_rows = [{**r, "warnings": " | ".join(r["warnings"])} for r in status_rows]
    pd.DataFrame(status_rows).to_csv(out.with_name(out.stem + "-files.csv"), index=False)
    if parts:
        ds = xr.concat(
            parts, dim="target", data_vars="all", coords="minimal", combine_attrs="drop_conflicts"
        )
        ds = ds.assign_coords(target=np.arange(ds.sizes["target"], dtype=np.int64))
    else:
        ds = None
    attrs = provenance(
        title="classified single targets of a cruise",
        model=model_path,
        n_files=len(files),
        n_failed_files=sum(r["status"] != "ok" for r in status_rows),
        warnings=warnings,
    )
    attrs["date_created"] = now_iso()
    if ds is not None:
        ds.attrs = attrs
        write_spectra(ds, out)
        per_target = [v for v in ds.data_vars if ds[v].dims == ("target",)]
        ds[per_target].to_dataframe().to_csv(out.with_suffix(".csv"))
