"""`make bench`: the long measurements whose results go to docs/ (not run in CI).

1. bench_spheroid.py: spheroid model speed and no-NaN sweep -> docs/
2. bench_simulate.py: a 1,000-spectrum Table I sample through `ts-toolkit simulate`
3. bench_batch.py: `ts-toolkit batch` throughput and memory on >= 300 MB of synthetic EK80 data
   (needs the bundled model)
4. bench_cluster.py: `batch` through a real dask cluster (`dask scheduler` + 2 `dask worker`
   on localhost): overhead per file after warm-up on 100 small (~2 MB) surveys -> docs/
4b. bench_large.py: `batch` through such a cluster on 3 surveys of ~200 MB: MB/s and peak memory
   per worker, and the extraction against `echopype.open_raw` in one process -> docs/
5. bench_learn.py: all learners on a labelled dataset, if one is given with
   TS_BENCH_DATA=path/to/table1.nc (training on the full 30,000 spectra takes hours on a
   small CPU, so it is not run by default)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> None:
    print(f"== {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)


def main() -> None:
    run("bench_spheroid.py")
    run("bench_simulate.py")
    run("bench_batch.py")
    run("bench_cluster.py")
    run("bench_large.py")
    data = os.environ.get("TS_BENCH_DATA")
    if data:
        run("bench_learn.py", data)
    else:
        print("== bench_learn.py skipped: set TS_BENCH_DATA to a labelled spectra file")


if __name__ == "__main__":
    main()
