"""Large-survey throughput of `batch` on a real dask cluster (run by `make bench`).

1. Builds (once; cached in --input) --surveys synthetic EK80 FM surveys of --pings pings
   each (seeds 1, 2, ...; 440 pings are about 200 MB) and a 2-ping survey for warm-ups;
2. waits (up to --wait seconds) for the 1-minute load average to fall below --max-load,
   and records the load before and after each measurement;
3. in this process, on the first survey: `echopype.open_raw` + reading every sample
   (backscatter_r/i) against the toolkit's extraction (`Ek80Source().open`, single-target
   detection and TS(f) of every target), alternately, --repeat times: wall and CPU time,
   the ratio, and how much of the extraction is echopype itself (the default direct
   reader has echopype convert only the configuration, see plugins/ek80/direct.py); and
   the extraction with `sample_reader=echopype` (every sample through echopype, in parts
   of whole pings: plugins/ek80/pieces.py), the reader used before;
4. starts a `dask scheduler` and --workers `dask worker` processes (one thread each) on
   this machine and runs `batch` (extract + classify with the bundled model) on the
   surveys through their tcp:// address, after a warm-up of every worker on the small
   survey (imports, model loaded): MB/s
   per task (file size / time inside the task, measured on the worker), MB/s per worker
   (all MB / wall time / workers), CPU seconds and peak resident memory per worker;
5. writes docs/bench-large.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def generate(folder: Path, surveys: int, pings: int) -> tuple[list[Path], Path]:
    """``surveys`` survey files of ``pings`` pings (re-used when present) and a 2-ping one."""
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    folder.mkdir(parents=True, exist_ok=True)
    small = folder / "warmup-2.raw"
    if not small.exists():
        write_raw(make_survey(2, 99, simulator="stanton-sphere", space=demo_space()), small)
    files = []
    for seed in range(1, surveys + 1):
        path = folder / f"survey-{pings}-s{seed}.raw"
        if not path.exists():
            print(f"generating {path.name} (takes minutes)", flush=True)
            t0 = time.perf_counter()
            write_raw(
                make_survey(pings, seed, simulator="stanton-sphere", space=demo_space()), path
            )
            print(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s")
        files.append(path)
    return files, small


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def wait_for_quiet(max_load: float, wait: float) -> str:
    """Wait until the 1-minute load average is below ``max_load`` (at most ``wait`` s)."""
    deadline = time.monotonic() + wait
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(10)
    return load()


def worker_stats() -> dict[str, float]:
    """Peak RSS (MB) and CPU seconds so far of the calling process (run on each worker)."""
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return {"rss_mb": u.ru_maxrss / 1024, "cpu_s": u.ru_utime + u.ru_stime}


def timed(fn: Any) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``."""
    gc.collect()
    c, t = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def in_process(path: Path, small: Path, repeat: int, min_ts: float) -> dict[str, Any]:
    """echopype.open_raw + samples against the extraction, alternately, in this process."""
    import warnings

    import echopype
    import numpy as np

    from ts_toolkit_plugins.ek80 import reader
    from ts_toolkit_plugins.ek80.source import Ek80Source

    warnings.simplefilter("ignore")

    def echopype_read() -> None:
        ed = echopype.open_raw(str(path), sonar_model="EK80")
        for group in [g for g in ed.group_paths if "Beam_group" in g]:
            for name in ("backscatter_r", "backscatter_i"):
                if name in ed[group]:
                    np.asarray(ed[group][name].values).sum()

    spent = {"echopype": 0.0, "calls": 0}
    original = reader.open_echodata

    def counted(*args: Any, **kwargs: Any) -> Any:
        c = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent["echopype"] += time.process_time() - c
            spent["calls"] += 1

    targets = 0

    def extract() -> None:
        nonlocal targets
        targets = Ek80Source().open(path, min_ts=min_ts).sizes["target"]

    def extract_via_echopype() -> None:
        Ek80Source().open(path, min_ts=min_ts, sample_reader="echopype")

    Ek80Source().open(small, min_ts=min_ts)  # imports and first calls
    reader.open_echodata = counted
    runs = []
    try:
        for _ in range(repeat):
            e = timed(echopype_read)
            spent.update(echopype=0.0, calls=0)
            x = timed(extract)
            inner = dict(spent)
            old = timed(extract_via_echopype)
            runs.append({"echopype": e, "extract": x, "inner": inner, "old": old, "load": load()})
    finally:
        reader.open_echodata = original
    return {"runs": runs, "targets": targets}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, default=REPO / "work" / "bench-large")
    ap.add_argument("--surveys", type=int, default=3)
    ap.add_argument("--pings", type=int, default=440, help="pings per survey (440: ~200 MB)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="in-process runs of each")
    ap.add_argument("--min-ts", type=float, default=-90.0)
    ap.add_argument("--max-load", type=float, default=1.0, help="wait for a lower load")
    ap.add_argument("--wait", type=float, default=300.0, help="longest wait for it (s)")
    ap.add_argument(
        "--model", type=Path, default=REPO / "src" / "ts_toolkit" / "data" / "default.tsm"
    )
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "bench-large.md")
    args = ap.parse_args()
    if not args.model.exists():
        raise SystemExit(f"error: model file not found: {args.model}")

    from distributed import Client

    from ts_toolkit.batch import process_file, run_batch
    from ts_toolkit.cluster import localhost_cluster

    files, small = generate(args.input, args.surveys, args.pings)
    sizes = [f.stat().st_size / 1e6 for f in files]
    print(f"waiting for load < {args.max_load:g} (now {load()})", flush=True)
    load_start = wait_for_quiet(args.max_load, args.wait)
    print(f"in-process comparison on {files[0].name} (load {load_start})", flush=True)
    local = in_process(files[0], small, args.repeat, args.min_ts)

    options = {"source": {"min_ts": args.min_ts}}
    runs_dir = args.input / "runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    load_batch = wait_for_quiet(args.max_load, args.wait)
    print(f"batch of {len(files)} surveys on {args.workers} workers (load {load_batch})")
    with localhost_cluster(args.workers, cwd=args.input) as address:
        with Client(address) as client:
            # every worker imports, compiles and loads the model before the timed batch
            client.run(process_file, str(small), str(args.model), options)
            before = client.run(worker_stats)
        t0 = time.perf_counter()
        report = run_batch(files, args.model, runs_dir / "large.nc", address, options=options)
        wall = time.perf_counter() - t0
        with Client(address) as client:
            after = client.run(worker_stats)
    load_end = load()
    failed = [o for o in report.outcomes if o.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} files failed, e.g. {failed[0].reason}")

    total_mb = sum(sizes)
    per_task = [o.size_bytes / 1e6 / o.seconds for o in report.outcomes]
    rows = [
        (
            "surveys",
            f"{len(files)} synthetic EK80 FM surveys ({args.pings} pings x 3 channels, seeds "
            f"1-{len(files)}): " + ", ".join(f"{s:.0f}" for s in sizes) + " MB",
        ),
        ("workers", f"{args.workers} `dask worker` processes, 1 thread each, on localhost"),
        ("batch wall time (extract + classify, 3 files)", f"{wall:.1f} s"),
        (
            "time inside each task (on the worker)",
            ", ".join(f"{o.seconds:.1f} s" for o in report.outcomes),
        ),
        (
            "**MB/s per task** (file size / time inside its task)",
            "**" + ", ".join(f"{v:.1f}" for v in per_task) + "** "
            f"(mean {statistics.mean(per_task):.1f}; target >= 15)",
        ),
        (
            "MB/s per worker over the batch (all MB / wall / workers)",
            f"{total_mb / wall / args.workers:.1f} ({len(files)} files on {args.workers} "
            "workers: one worker has two, the other waits)",
        ),
        ("targets classified", f"{report.n_targets}"),
    ]
    cpu_total = sum(after[a]["cpu_s"] - before.get(a, {}).get("cpu_s", 0.0) for a in after)
    rows.append(
        (
            "MB per CPU second of the workers (MB/s per worker with a core of its own)",
            f"{total_mb / cpu_total:.1f} ({total_mb:.0f} MB, {cpu_total:.1f} CPU s)",
        )
    )
    for addr in sorted(after):
        cpu = after[addr]["cpu_s"] - before.get(addr, {}).get("cpu_s", 0.0)
        rows.append(
            (
                f"worker {addr}",
                f"**peak RSS {after[addr]['rss_mb']:.0f} MB** (target <= 2048); "
                f"{cpu:.1f} CPU s in the batch",
            )
        )
    for i, r in enumerate(local["runs"], 1):
        (ew, ec), (xw, xc), inner = r["echopype"], r["extract"], r["inner"]
        rows.append(
            (
                f"in process, run {i}: `echopype.open_raw` + samples",
                f"{ew:.1f} s wall, {ec:.1f} s CPU ({sizes[0] / ew:.1f} MB/s)",
            )
        )
        rows.append(
            (
                f"in process, run {i}: extraction (`Ek80Source().open`)",
                f"{xw:.1f} s wall, {xc:.1f} s CPU ({sizes[0] / xw:.1f} MB/s, "
                f"{local['targets']} targets); of which `echopype.open_raw` (the "
                f"configuration, {inner['calls']} call) {inner['echopype']:.1f} s CPU",
            )
        )
        ow, oc = r["old"]
        rows.append(
            (
                f"in process, run {i}: extraction with `sample_reader=echopype`",
                f"{ow:.1f} s wall, {oc:.1f} s CPU ({sizes[0] / ow:.1f} MB/s; every sample "
                "through echopype, the reader before the direct one)",
            )
        )
        rows.append(
            (
                f"**ratio extraction / echopype**, run {i}",
                f"**{xw / ew:.2f}** wall, {xc / ec:.2f} CPU (target <= 2; load {r['load']})",
            )
        )
    rows += [
        ("load average before the in-process runs", load_start),
        ("load average before the batch", load_batch),
        ("load average at the end", load_end),
    ]
    lines = [
        "# `batch` on large surveys: MB/s and memory per worker",
        "",
        "Measured by `scripts/bench_large.py` (`make bench`) on "
        f"{platform.node()} ({os.cpu_count()} CPUs shared with other users, Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M')}; detection "
        f"threshold {args.min_ts:g} dB, model `{args.model.name}`. Load averages (1 / 5 / 15 "
        "min) are listed: with other work on the 2 cores every time is longer.",
        "",
        "| quantity | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
    ]
    args.doc.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
