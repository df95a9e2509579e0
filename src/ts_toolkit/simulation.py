"""Dataset generation: seeded, chunked, parallel (dask) and resumable.

All target parameters are drawn up front from one seeded generator, then split into
chunks of targets. Each chunk is simulated as one dask task; the driver writes every
finished chunk to ``<out>.parts/`` at once (atomically), so an interrupted run (Ctrl-C,
kill -9, power loss) re-run with the same command continues where it stopped and
produces the same final file. A chunk that fails is retried once, then recorded with its
parameters and the error; the remaining chunks still run and the failure is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checks import check_count, check_scheduler, check_seed, check_workers
from .cluster import dask_client
from .errors import InvalidParameterError, OutputPathError, TsToolkitError
from .locks import holds_output_lock
from .outputs import atomic_output, refuse_existing, write_bytes_atomic
from .parameters import ParameterSpace, sample_parameters
from .plugins import get_simulator
from .signals import interrupt_from_error
from .spectra import make_spectra, now_iso, write_spectra

PER_TARGET = ("kind", "Req", "alpha", "a", "b", "theta", "rho_s", "c_s", "rho_w", "c_w")
DEFAULT_CHUNK_SIZE = 50
LOCAL_SCHEDULERS = ("processes", "threads", "synchronous")


@dataclass
class ChunkResult:
    """TS (n_targets, n_freq) of one chunk and the warnings its simulator raised."""

    index: int
    ts: np.ndarray
    warnings: list[str] = field(default_factory=list)


@dataclass
class SimulationReport:
    """What a run did: where the output is, how long it took, what failed."""

    out: Path
    n_targets: int
    n_chunks: int
    computed_chunks: int
    resumed_chunks: int
    failures: list[dict[str, Any]]
    n_nan_spectra: int
    n_warnings: int
    wall_time_s: float
    workers: int
    already_complete: bool = False  # the same job's finished output was there: nothing done

    @property
    def ok(self) -> bool:
        return not self.failures


def compute_chunk(
    simulator_name: str, frequency: np.ndarray, params: dict[str, np.ndarray], index: int
) -> ChunkResult:
    """Simulate one chunk of targets (runs on a dask worker)."""
    sim = get_simulator(simulator_name)
    wanted = {k: v for k, v in params.items() if k in sim.parameters}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with interrupt_from_error():
            ts = np.asarray(sim.ts(frequency, **wanted), dtype=np.float64)
    n = len(next(iter(params.values())))
    ts = ts.reshape(n, frequency.size)
    return ChunkResult(index, ts.astype(np.float32), [str(w.message) for w in caught])


class PartsStore:
    """The ``<out>.parts/`` folder: manifest, finished chunks and failure records."""

    def __init__(self, out: Path) -> None:
        self.dir = out.with_name(out.name + ".parts")
        self.manifest_path = self.dir / "manifest.json"

    def open(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create the folder, or check that an existing one belongs to the same job."""
        if self.manifest_path.exists():
            existing = json.loads(self.manifest_path.read_text())
            keys = ("job", "n_targets", "chunk_size")
            if any(existing.get(k) != manifest.get(k) for k in keys):
                raise TsToolkitError(
                    f"{self.dir} holds parts of a different simulation (other space, seed, "
                    "simulator or chunk size); remove it or choose another --out"
                )
            return existing
        self.dir.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self.manifest_path, json.dumps(manifest, indent=2).encode())
        return manifest

    def chunk_path(self, index: int) -> Path:
        return self.dir / f"chunk-{index:06d}.npz"

    def done(self, index: int) -> bool:
        return self.chunk_path(index).exists()

    def save(self, result: ChunkResult) -> None:
        with atomic_output(self.chunk_path(result.index)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, ts=result.ts, warnings=np.asarray(result.warnings, dtype=str))

    def load(self, index: int) -> ChunkResult:
        with np.load(self.chunk_path(index)) as z:
            return ChunkResult(index, z["ts"], [str(w) for w in z["warnings"]])

    def save_failures(self, failures: list[dict[str, Any]]) -> Path:
        path = self.dir / "failures.json"
        return write_bytes_atomic(path, json.dumps(failures, indent=2, default=float).encode())


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _chunk_params(params: dict[str, np.ndarray], s: slice) -> dict[str, np.ndarray]:
    return {k: np.asarray(v[s], dtype=float) for k, v in params.items() if k != "kind"}


def _failure_record(index: int, s: slice, params: dict[str, np.ndarray], error: str):
    return {
        "chunk": index,
        "targets": [s.start, s.stop - 1],
        "error": error,
        "parameters": {k: np.asarray(v[s]).tolist() for k, v in params.items()},
    }


def _run_synchronous(
    tasks: list[tuple[int, slice]], run: Callable[[int, slice], ChunkResult]
) -> Iterator[tuple[int, slice, ChunkResult | None, str | None]]:
    for index, s in tasks:
        error = None
        for _attempt in range(2):  # one retry
            try:
                yield index, s, run(index, s), None
                break
            except Exception as exc:  # a simulator bug must not stop the other chunks
                error = "".join(traceback.format_exception_only(exc)).strip()
        else:
            yield index, s, None, error


def _run_dask(
    tasks: list[tuple[int, slice]],
    submit_args: Callable[[int, slice], tuple],
    scheduler: str | None,
    workers: int,
) -> Iterator[tuple[int, slice, ChunkResult | None, str | None]]:
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        futures = {}
        for index, s in tasks:
            fut = client.submit(compute_chunk, *submit_args(index, s), pure=False, retries=1)
            futures[fut] = (index, s)
        for fut in as_completed(futures):
            index, s = futures[fut]
            if fut.status == "finished":
                yield index, s, fut.result(), None
            else:
                exc = fut.exception()
                yield index, s, None, "".join(traceback.format_exception_only(exc)).strip()


@holds_output_lock("out")  # a second run on the same output is refused
def simulate(
    space: ParameterSpace,
    out: str | Path,
    seed: int = 1,
    simulator: str = "prolate-spheroid",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    scheduler: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SimulationReport:
    """Simulate every target of ``space`` with the named Simulator and write ``out``.

    ``scheduler``: None or "processes" (a local dask cluster of worker processes),
    "threads", "synchronous" (no dask; for debugging and tests), or the address of a
    ``dask.distributed`` scheduler. ``workers`` defaults to the CPU count; a synchronous run
    has one in-process worker whatever ``workers`` says.

    An existing ``out`` is refused unless ``overwrite``, or unless it is this job's
    finished output (same space, seed and simulator, no failures): then nothing is done
    and the report says ``already_complete``.
    """
    out = Path(out)
    check_count(chunk_size, "--chunk-size")
    check_seed(seed)
    check_workers(workers)
    check_scheduler(scheduler)
    sim = get_simulator(simulator)  # fail early on an unknown name
    store = PartsStore(out)
    if space.n_targets == 0:
        raise InvalidParameterError("the parameter space has no targets (all counts are 0)")
    job = {
        "space": space.fingerprint(),
        "seed": seed,
        "simulator": sim.name,
        "simulator_version": getattr(sim, "version", "?"),
    }
    if out.exists() and not store.dir.exists() and not overwrite:
        if _finished_output(out, space, job):
            n = space.n_targets
            n_chunks = len(_chunks(n, chunk_size))
            return SimulationReport(
                out, n, n_chunks, 0, n_chunks, [], 0, 0, 0.0, 0, already_complete=True
            )
        raise OutputPathError(f"{out} already exists; pass --overwrite to replace it")
    refuse_existing([out], overwrite=True)  # a folder is no output file
    params = sample_parameters(space, seed)
    check_parameters(sim, params)
    n = int(params["Req"].size)
    manifest = store.open(
        {"job": job, "n_targets": n, "chunk_size": chunk_size, "created": now_iso()}
    )
    slices = _chunks(n, chunk_size)
    todo = [(i, s) for i, s in enumerate(slices) if not store.done(i)]
    resumed = len(slices) - len(todo)
    workers = 1 if scheduler == "synchronous" else (workers or os.cpu_count() or 1)
    frequency = space.frequency

    def run_local(index: int, s: slice) -> ChunkResult:
        return compute_chunk(simulator, frequency, _chunk_params(params, s), index)

    def submit_args(index: int, s: slice) -> tuple:
        return simulator, frequency, _chunk_params(params, s), index

    failures: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if scheduler == "synchronous":
        results = _run_synchronous(todo, run_local)
    else:
        results = _run_dask(todo, submit_args, scheduler, workers)
    with (
        closing(results),
        SpectraProgressBar(
            progress,
            total=n,
            done=sum(s.stop - s.start for s in slices) - sum(s.stop - s.start for _, s in todo),
            label=f"simulating with {sim.name}",
        ) as advance,
    ):
        for index, s, result, error in results:
            if result is not None:
                store.save(result)
            else:
                failures.append(_failure_record(index, s, params, error or "unknown error"))
            advance(s.stop - s.start)
    wall = time.perf_counter() - t0
    if failures:
        store.save_failures(failures)
    report = _assemble(
        space,
        params,
        slices,
        store,
        out,
        seed,
        sim,
        manifest,
        failures,
        wall,
        workers,
        len(todo),
        resumed,
    )
    if not failures:
        shutil.rmtree(store.dir, ignore_errors=True)
    return report


def check_parameters(sim: Any, params: dict[str, np.ndarray]) -> None:
    """Every drawn target inside the ranges the simulator declares for its parameters
    (e.g. water density 500-2000 kg/m³), checked before anything is written."""
    for name, spec in getattr(sim, "parameters", {}).items():
        if name in params and hasattr(spec, "check"):
            try:
                spec.check(np.asarray(params[name], dtype=float))
            except InvalidParameterError as exc:
                raise InvalidParameterError(
                    f"the parameter space does not fit simulator {sim.name!r}: {exc}"
                ) from exc


def _finished_output(out: Path, space: ParameterSpace, job: dict[str, Any]) -> bool:
    """Whether ``out`` is the complete output of ``job``: written by :func:`simulate` for
    the same space, seed and simulator, with every target and no failed one."""
    import xarray as xr

    try:
        with xr.open_dataset(out, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
            n = int(ds.sizes.get("target", -1))
        described = json.loads(attrs.get("parameter_space", "null"))
    except Exception:  # not a NetCDF file of ours: not this job's output
        return False
    same_space = described == json.loads(json.dumps(space.describe()))
    return (
        same_space
        and n == space.n_targets
        and int(attrs.get("seed", -1)) == job["seed"]
        and attrs.get("simulator") == job["simulator"]
        and str(attrs.get("simulator_version")) == str(job["simulator_version"])
        and int(attrs.get("n_failed_targets", -1)) == 0
    )


def simulation_attrs(sim: Any, seed: int, space: ParameterSpace, messages: list[str]) -> dict:
    """The provenance attributes of simulated spectra: simulator, its version, seed, the
    parameter space and (the first 50 of) the simulator's warnings."""
    return {
        "title": "simulated target-strength spectra",
        "simulator": sim.name,
        "simulator_version": getattr(sim, "version", "?"),
        "seed": int(seed),
        "parameter_space": space.describe(),
        "simulator_warnings": sorted(messages)[:50],
    }


def _assemble(
    space,
    params,
    slices,
    store,
    out,
    seed,
    sim,
    manifest,
    failures,
    wall,
    workers,
    computed,
    resumed,
) -> SimulationReport:
    failed = {f["chunk"] for f in failures}
    keep = [i for i in range(len(slices)) if i not in failed]
    results = [store.load(i) for i in keep]
    ts = (
        np.concatenate([r.ts for r in results])
        if results
        else np.empty((0, space.frequency.size), np.float32)
    )
    rows = (
        np.concatenate([np.arange(slices[i].start, slices[i].stop) for i in keep])
        if keep
        else np.empty(0, dtype=int)
    )
    messages = sorted({w for r in results for w in r.warnings})
    attrs = simulation_attrs(sim, seed, space, messages)
    attrs["n_failed_targets"] = int(sum(f["targets"][1] - f["targets"][0] + 1 for f in failures))
    ds = make_spectra(space.frequency, ts, attrs=attrs, **{k: params[k][rows] for k in PER_TARGET})
    ds.attrs["date_created"] = manifest["created"]
    write_spectra(ds, out)
    n_nan = int(np.isnan(ts).any(axis=1).sum())
    return SimulationReport(
        out,
        int(rows.size),
        len(slices),
        computed,
        resumed,
        failures,
        n_nan,
        len(messages),
        wall,
        workers,
    )


class SpectraProgressBar:
    """A rich progress bar over simulated spectra (or nothing when disabled); entering it
    gives the callback ``advance(k)`` for ``k`` more finished spectra."""

    def __init__(self, enabled: bool, total: int, done: int, label: str) -> None:
        self.enabled, self.total, self.done, self.label = enabled, total, done, label

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda k: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("spectra"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self._p.__enter__()
        task = self._p.add_task(self.label, total=self.total, completed=self.done)
        return lambda k: self._p.advance(task, k)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._p.__exit__(*exc)
