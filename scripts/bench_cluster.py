"""Per-file overhead of `batch` on a real dask cluster (run by `make bench`).

1. Builds (once; cached in --input) --distinct synthetic surveys of about 2 MB (4 targets,
   4 pings, 3 channels) and --files names for them (copies);
2. starts a `dask scheduler` and --workers `dask worker` processes (one thread each) on this
   machine, as on a cluster, and reaches them through their tcp:// address;
3. warm-up: `batch` on --warmup files (each worker imports, compiles and loads the model);
4. `batch` on all files (fresh output) through the address: wall time; time inside each task
   (extract + classify, measured on the worker); the overhead per file = wall x workers /
   files - mean task time (scheduling, moving results, writing them on the driver); model
   loads per worker; peak resident memory per worker;
5. the same files' extract + classify in this process after a warm-up, for comparison;
6. writes docs/bench-cluster.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate(folder: Path, distinct: int, files: int) -> list[Path]:
    """``files`` survey files (copies of ``distinct`` surveys) in ``folder`` (re-used)."""
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    src = folder / "distinct"
    src.mkdir(parents=True, exist_ok=True)
    for seed in range(1, distinct + 1):
        path = src / f"survey-{seed:03d}.raw"
        if not path.exists():
            print(f"generating {path.name}", flush=True)
            write_raw(make_survey(4, seed, simulator="stanton-sphere", space=demo_space()), path)
    cruise = folder / f"cruise-{files}"
    cruise.mkdir(exist_ok=True)
    out = []
    for i in range(files):
        path = cruise / f"file-{i:04d}.raw"
        if not path.exists():
            shutil.copy(src / f"survey-{i % distinct + 1:03d}.raw", path)
        out.append(path)
    return out


def worker_stats() -> dict[str, float]:
    """Peak RSS (MB) and model cache counts of the calling process (run on each worker)."""
    import resource

    from ts_toolkit.workercache import cache_info

    return {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **cache_info()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, default=REPO / "work" / "bench-cluster")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--distinct", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument(
        "--model", type=Path, default=REPO / "src" / "ts_toolkit" / "data" / "default.tsm"
    )
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "bench-cluster.md")
    args = ap.parse_args()
    if not args.model.exists():
        raise SystemExit(f"error: model file not found: {args.model}")

    from distributed import Client

    from ts_toolkit.batch import process_file, run_batch
    from ts_toolkit.cluster import localhost_cluster

    files = generate(args.input, args.distinct, args.files)
    size_mb = statistics.mean(f.stat().st_size for f in files) / 1e6
    options = {"source": {"min_ts": -90.0}}
    runs = args.input / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    with localhost_cluster(args.workers, cwd=args.input) as address:
        t0 = time.perf_counter()
        run_batch(files[: args.warmup], args.model, runs / "warmup.nc", address, options=options)
        t_warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = run_batch(files, args.model, runs / "all.nc", address, options=options)
        wall = time.perf_counter() - t0
        with Client(address) as client:
            stats = client.run(worker_stats)
    failed = [o for o in report.outcomes if o.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} files failed, e.g. {failed[0].reason}")
    task = statistics.mean(o.seconds for o in report.outcomes)
    share = wall * args.workers / len(files)
    overhead = share - task

    # the same work in this process, after one warm-up file
    process_file(str(files[0]), str(args.model), options)
    local = []
    for f in files[1:11]:
        t0 = time.perf_counter()
        process_file(str(f), str(args.model), options)
        local.append(time.perf_counter() - t0)
    t_local = statistics.mean(local)

    load = os.getloadavg()
    rows = [
        ("files", f"{len(files)} ({args.distinct} distinct surveys), {size_mb:.2f} MB each"),
        ("workers", f"{args.workers} `dask worker` processes, 1 thread each, on localhost"),
        ("warm-up batch", f"{args.warmup} files in {t_warm:.1f} s"),
        ("batch wall time", f"{wall:.1f} s ({len(files) / wall:.2f} files/s)"),
        ("wall x workers / files", f"{share:.2f} s"),
        ("mean time inside a task (extract + classify)", f"{task:.2f} s"),
        ("**overhead per file** (the difference)", f"**{overhead:.2f} s** (target <= 0.5 s)"),
        ("extract + classify in one process, after warm-up", f"{t_local:.2f} s per file"),
        ("targets", f"{report.n_targets}"),
    ]
    for addr, s in sorted(stats.items()):
        rows.append(
            (
                f"worker {addr}",
                f"peak RSS {s['rss_mb']:.0f} MB; model loaded {s['loads']} time(s), "
                f"reused {s['hits']} times",
            )
        )
    rows.append(("load average at the end", " / ".join(f"{x:.1f}" for x in load)))
    lines = [
        "# `batch` on a dask cluster: overhead per file",
        "",
        "Measured by `scripts/bench_cluster.py` (`make bench`) on "
        f"{platform.node()} ({os.cpu_count()} CPUs, {platform.python_version()}), "
        f"{time.strftime('%Y-%m-%d')}.",
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
