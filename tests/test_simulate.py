"""Dataset generation: output schema, dask vs synchronous, resume after kill -9, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import fake_simulators
from ts_toolkit.errors import TsToolkitError
from ts_toolkit.parameters import space_from_mapping
from ts_toolkit.simulation import simulate
from ts_toolkit.spectra import read_spectra

SPACE_CFG = {
    "frequency": {"bands": "34-45,55-90 kHz", "step": 1.0},
    "kinds": {"gas": {"count": 24}, "liquid": {"count": 16}},
}


def small_space():
    return space_from_mapping(SPACE_CFG)


def assert_same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical values, coords and attrs, except the creation time of the run."""
    a = a.copy()
    b = b.copy()
    a.attrs.pop("date_created")
    b.attrs.pop("date_created")
    xr.testing.assert_identical(a, b)


def test_simulate_writes_schema_and_parameters(tmp_path):
    space = small_space()
    report = simulate(
        space,
        tmp_path / "s.nc",
        seed=3,
        simulator="stanton-sphere",
        chunk_size=7,
        scheduler="synchronous",
        progress=False,
    )
    assert report.ok and report.n_targets == 40 and report.n_chunks == 6
    assert report.workers == 1  # synchronous: one in-process worker, not the CPU count
    ds = read_spectra(tmp_path / "s.nc")
    assert ds.sizes == {"target": 40, "frequency": space.frequency.size}
    assert list(ds["kind"].values).count("gas") == 24
    for name in ("a", "b", "theta", "Req", "alpha", "rho_s", "c_s", "rho_w", "c_w"):
        assert name in ds, name
    assert ds.attrs["simulator"] == "stanton-sphere"
    assert ds.attrs["seed"] == 3
    assert '"kinds"' in ds.attrs["parameter_space"]
    assert not np.isnan(ds["TS"].values).any()
    assert not (tmp_path / "s.nc.parts").exists()  # cleaned after success


def test_dask_local_cluster_matches_synchronous(tmp_path):
    space = small_space()
    simulate(
        space,
        tmp_path / "sync.nc",
        seed=2,
        simulator="stanton-sphere",
        chunk_size=9,
        scheduler="synchronous",
        progress=False,
    )
    simulate(
        space,
        tmp_path / "dask.nc",
        seed=2,
        simulator="stanton-sphere",
        chunk_size=9,
        scheduler="threads",
        workers=2,
        progress=False,
    )
    assert_same_data(read_spectra(tmp_path / "sync.nc"), read_spectra(tmp_path / "dask.nc"))


def test_existing_output_is_not_overwritten(tmp_path):
    out = tmp_path / "s.nc"
    out.write_text("precious")
    with pytest.raises(TsToolkitError, match="already exists"):
        simulate(
            small_space(), out, simulator="stanton-sphere", scheduler="synchronous", progress=False
        )
    assert out.read_text() == "precious"


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import fake_simulators
fake_simulators.install()
from ts_toolkit.parameters import space_from_mapping
from ts_toolkit.simulation import simulate
simulate(space_from_mapping({cfg!r}), {out!r}, seed=9, simulator="slow-toy", chunk_size=4,
         scheduler="synchronous", progress=False)
"""


def test_resume_after_kill_gives_the_same_file(tmp_path, monkeypatch):
    tests_dir = str(Path(__file__).parent)
    out = tmp_path / "killed.nc"
    env = dict(os.environ, SLOW_TOY_DELAY="0.15")
    code = RUNNER.format(tests=tests_dir, cfg=SPACE_CFG, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    parts = tmp_path / "killed.nc.parts"
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list(parts.glob("chunk-*.npz"))) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("chunk-*.npz")))
    assert 3 <= done_before < 10, "the run should have been killed midway"
    assert not out.exists()

    monkeypatch.setenv("SLOW_TOY_DELAY", "0")
    fake_simulators.install()
    report = simulate(
        small_space(),
        out,
        seed=9,
        simulator="slow-toy",
        chunk_size=4,
        scheduler="synchronous",
        progress=False,
    )
    assert report.resumed_chunks == done_before
    assert report.computed_chunks == 10 - done_before
    fresh = tmp_path / "fresh.nc"
    simulate(
        small_space(),
        fresh,
        seed=9,
        simulator="slow-toy",
        chunk_size=4,
        scheduler="synchronous",
        progress=False,
    )
    assert_same_data(read_spectra(out), read_spectra(fresh))


def test_parts_of_another_job_are_refused(tmp_path):
    fake_simulators.install()
    out = tmp_path / "s.nc"
    parts = out.with_name("s.nc.parts")
    parts.mkdir()
    (parts / "manifest.json").write_text('{"job": {"seed": 1234}, "n_targets": 1}')
    with pytest.raises(TsToolkitError, match="parts of a different simulation"):
        simulate(
            small_space(),
            out,
            seed=9,
            simulator="slow-toy",
            scheduler="synchronous",
            progress=False,
        )


def test_failing_chunk_is_reported_and_others_kept(tmp_path):
    fake_simulators.install()
    out = tmp_path / "f.nc"
    report = simulate(
        small_space(),
        out,
        seed=1,
        simulator="failing-toy",
        chunk_size=4,
        scheduler="synchronous",
        progress=False,
    )
    assert not report.ok
    failed_targets = {
        t for f in report.failures for t in range(f["targets"][0], f["targets"][1] + 1)
    }
    for f in report.failures:
        assert "toy failure for theta > 80" in f["error"]
        assert max(f["parameters"]["theta"]) > 80
    ds = read_spectra(out)
    assert ds.sizes["target"] == 40 - len(failed_targets)
    assert ds.attrs["n_failed_targets"] == len(failed_targets)
    assert np.all(ds["theta"].values <= 80)
    assert (tmp_path / "f.nc.parts" / "failures.json").exists()


def test_cli_simulate_and_plot(tmp_path, monkeypatch, capsys):
    from ts_toolkit.cli import main

    space = tmp_path / "space.toml"
    space.write_text(
        '[frequency]\nbands = "34-45 kHz"\n[kinds.gas]\ncount = 6\n[kinds.liquid]\ncount = 4\n'
    )
    out = tmp_path / "cli.nc"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "ts-toolkit",
            "simulate",
            "--out",
            str(out),
            "--space",
            str(space),
            "--simulator",
            "stanton-sphere",
            "--scheduler",
            "synchronous",
            "--seed",
            "5",
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    assert read_spectra(out).sizes["target"] == 10
    summary = " ".join(capsys.readouterr().out.split())
    assert "10 spectra in" in summary and " with 1 worker (" in summary
    monkeypatch.setattr(sys, "argv", ["ts-toolkit", "plot-spectra", str(out), "--n", "2"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    png = out.with_suffix(".png")
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_failures_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    from ts_toolkit.cli import main

    fake_simulators.install()
    space = tmp_path / "space.toml"
    space.write_text(
        '[frequency]\nbands = "34-45 kHz"\n[kinds.gas]\ncount = 8\ntheta = { min = 70, max = 90 }\n'
    )
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "ts-toolkit",
            "simulate",
            "--out",
            str(tmp_path / "x.nc"),
            "--space",
            str(space),
            "--simulator",
            "failing-toy",
            "--scheduler",
            "synchronous",
            "--chunk-size",
            "2",
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: completed with failures")


def test_ctrl_c_stops_a_synchronous_run_of_the_compiled_model(tmp_path):
    """Ctrl-C inside the numba-compiled spheroid solver used to be lost (the handler ran in a
    callback from compiled code, which discarded the KeyboardInterrupt) and the run went on."""
    out = tmp_path / "cut.nc"
    cmd = [sys.executable, "-m", "ts_toolkit", "simulate", "--out", str(out), "--n", "400"]
    cmd += ["--scheduler", "synchronous", "--chunk-size", "2"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even where this test runs with SIGINT ignored (a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )
    parts = tmp_path / "cut.nc.parts"
    deadline = time.time() + 240
    while len(list(parts.glob("chunk-*.npz"))) < 2 and proc.poll() is None:
        assert time.time() < deadline, "no chunk finished in time"
        time.sleep(0.1)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err  # README: Ctrl-C and SIGTERM exit with 130
    assert time.time() - t0 < 30
    assert "interrupted; finished chunks are kept" in err
    assert not out.exists() and len(list(parts.glob("chunk-*.npz"))) >= 2
