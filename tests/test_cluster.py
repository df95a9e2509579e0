"""`simulate` and `batch` on a real dask cluster: a `dask scheduler` and two `dask worker`
processes on this machine (ports chosen free, the workers in another folder), reached
through their ``tcp://`` address, as on a cruise's compute cluster.

The outputs equal those of a synchronous run, and each worker loads the model once for all
its files (the worker-side cache), not once per file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ts_toolkit.batch import run_batch
from ts_toolkit.cluster import localhost_cluster
from ts_toolkit.modelfile import bundled_model_path as default_model_path
from ts_toolkit.simulation import simulate
from ts_toolkit.spectra import read_spectra

MODEL = default_model_path()
SPACE = """
[frequency]
bands = "34-45,55-90 kHz"
step = 1.0

[kinds.gas]
count = 12

[kinds.liquid]
count = 8
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> str:
    with localhost_cluster(2, cwd=tmp_path_factory.mktemp("workers")) as address:
        yield address


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def same_except_time(a: xr.Dataset, b: xr.Dataset) -> None:
    a, b = a.copy(), b.copy()
    for ds in (a, b):
        ds.attrs.pop("date_created", None)
    xr.testing.assert_identical(a, b)


def test_simulate_through_a_cluster_address(cluster: str, tmp_path: Path) -> None:
    (tmp_path / "space.toml").write_text(SPACE)
    r = run_cli(
        "simulate", "--out", "c.nc", "--space", "space.toml", "--simulator", "stanton-sphere",
        "--scheduler", cluster, "--chunk-size", "3", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    from ts_toolkit.parameters import load_space

    ref = tmp_path / "s.nc"
    space = load_space(tmp_path / "space.toml")
    simulate(
        space, ref, simulator="stanton-sphere", chunk_size=3, scheduler="synchronous",
        progress=False,
    )  # fmt: skip
    same_except_time(read_spectra(tmp_path / "c.nc"), read_spectra(ref))


@pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")
def test_batch_through_a_cluster_loads_the_model_once_per_worker(
    cluster: str, tmp_path: Path
) -> None:
    from distributed import Client

    from ts_toolkit.demo import demo_space
    from ts_toolkit.workercache import cache_info
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    cruise = tmp_path / "cruise"
    cruise.mkdir()
    for seed in (1, 2):
        write_raw(make_survey(2, seed, simulator="stanton-sphere", space=demo_space()),
                  cruise / f"s{seed}.raw")  # fmt: skip
    for k in range(4):  # six files in all, two of them copies under other names
        shutil.copy(cruise / f"s{k % 2 + 1}.raw", cruise / f"copy{k}.raw")
    model = tmp_path / "m.tsm"  # a relative --model: the workers run in another folder
    shutil.copy(MODEL, model)
    with Client(cluster) as client:
        before = client.run(cache_info)
    r = run_cli(
        "batch", "cruise", "--model", "m.tsm", "--out", "out/c.nc", "--scheduler", cluster,
        "--min-ts", "-90", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with Client(cluster) as client:
        after = client.run(cache_info)
    loads = {w: after[w]["loads"] - before[w]["loads"] for w in after}
    uses = {w: loads[w] + after[w]["hits"] - before[w]["hits"] for w in after}
    assert sum(uses.values()) == 6  # one model use per file
    assert all(n <= 1 for n in loads.values()), loads  # loaded at most once per worker
    assert sum(loads.values()) <= 2 and sum(uses.values()) - sum(loads.values()) >= 4

    ref = tmp_path / "ref.nc"
    run_batch([cruise], model, ref, scheduler="synchronous", options={"source": {"min_ts": -90}})
    got, want = read_spectra(tmp_path / "out" / "c.nc"), read_spectra(ref)
    assert got.sizes["target"] == want.sizes["target"] == 12
    order = np.lexsort((got["range"].values, got["file"].values.astype(str)))
    ref_order = np.lexsort((want["range"].values, want["file"].values.astype(str)))
    # the same numbers up to rounding: worker processes run numpy and torch with one thread,
    # and the CNN computes in float32 (eps 1.2e-7)
    for name, rtol in (("TS", 1e-9), ("range", 1e-12), ("pred_a", 1e-5), ("pred_b", 1e-5)):
        np.testing.assert_allclose(
            got[name].values[order], want[name].values[ref_order], rtol=rtol, err_msg=name
        )
    np.testing.assert_allclose(
        got["pred_theta"].values[order], want["pred_theta"].values[ref_order], atol=1e-3
    )
    np.testing.assert_array_equal(
        got["pred_kind"].values[order], want["pred_kind"].values[ref_order]
    )


def test_workers_run_without_dasks_malloc_trim_threshold(cluster: str, monkeypatch) -> None:
    """dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which tripled the
    page faults of an EK80 survey's extraction (docs/cluster.md); the workers that
    ts-toolkit starts itself, a localhost cluster and the local cluster of `batch` and
    `simulate`, run without it."""
    import os

    import dask
    from distributed import Client

    from ts_toolkit.cluster import dask_client

    name = "MALLOC_TRIM_THRESHOLD_"
    monkeypatch.delenv(name, raising=False)
    with Client(cluster) as client:  # os.getenv runs in each worker (pickled by name)
        assert set(client.run(os.getenv, name).values()) == {None}
    with dask_client(None, 1) as client:
        assert set(client.run(os.getenv, name).values()) == {None}

    # the caller's own dask config is left as it was
    assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]
