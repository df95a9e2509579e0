"""CF conventions and provenance of the NetCDF outputs (issue 30, item 4).

The IOOS compliance checker's CF 1.10 check runs on an ``extract`` output and a
``predict`` output of a synthetic survey and must report no high- or medium-priority
failure; what it reports at low priority is printed (``pytest -s``) and documented in
docs/outputs.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from ts_toolkit.spectra import read_spectra

pytest.importorskip("compliance_checker")

CF = "cf:1.10"


def _failures(results, limit: int) -> list[tuple[int, str, list[str]]]:
    """(weight, name, messages) of every check at or above ``limit`` that did not pass."""
    out = []
    for r in results:
        if r.children:
            out += _failures(r.children, limit)
        value = r.value
        failed = (value is False) or (isinstance(value, tuple) and value[0] != value[1])
        if r.weight >= limit and failed:
            out.append((r.weight, str(r.name), list(r.msgs)))
    return out


def cf_check(path: Path) -> tuple[list, list]:
    """(high/medium failures, low-priority failures) of the CF check of ``path``."""
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    ds = suite.load_dataset(str(path))
    groups, errors = suite.run_all(ds, [CF], skip_checks=[])[CF]
    assert not errors, errors  # a check that crashed is not a pass
    serious = _failures(groups, 2)
    low = [f for f in _failures(groups, 1) if f[0] == 1]
    return serious, low


def _run(*args: str, cwd: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cf")
    _run("synth-raw", "-o", "s.raw", "--targets", "4", "--simulator", "stanton-sphere", cwd=folder)
    _run("extract", "s.raw", "-o", "s.spectra.nc", "--min-ts", "-90", cwd=folder)
    _run("predict", "s.raw", "-o", "p.nc", "--min-ts", "-90", cwd=folder)
    _run("predict", "s.raw", "-o", "p.csv", "--min-ts", "-90", cwd=folder)
    return {
        "extract": folder / "s.spectra.nc",
        "predict": folder / "p.nc",
        "csv": folder / "p.csv",
        "raw": folder / "s.raw",
    }


@pytest.mark.parametrize("which", ["extract", "predict"])
def test_cf_checker_finds_no_high_or_medium_failure(outputs, which: str) -> None:
    serious, low = cf_check(outputs[which])
    print(f"\n{which}: low-priority CF findings: {low}")
    assert serious == []


def test_variables_carry_cf_names_units_and_fill_values(outputs) -> None:
    with netCDF4.Dataset(outputs["predict"]) as nc:
        assert "CF-1.10" in nc.getncattr("Conventions")
        assert "predictions of the" in nc.getncattr("history")
        ts = nc["TS"]
        assert ts.standard_name == "acoustic_target_strength_in_sea_water"
        assert ts.units == "1" and ts.level_units == "dB re 1 m2"
        assert np.isnan(ts.getncattr("_FillValue"))
        assert nc["frequency"].standard_name == "sound_frequency"
        for coord in ("frequency", "target"):
            assert "_FillValue" not in nc[coord].ncattrs()
        assert nc["depth"].positive == "down" and nc["depth"].standard_name == "depth"
        assert nc["latitude"].units == "degrees_north"
        assert nc["longitude"].units == "degrees_east"
        assert nc["ping_time"].standard_name == "time"
        for name, var in nc.variables.items():
            assert var.getncattr("long_name"), name
        # provenance: software, model and its settings, input file and its checksum
        assert nc.getncattr("software_version")
        assert nc.getncattr("model") and json.loads(nc.getncattr("model_settings")) is not None
        assert len(nc.getncattr("model_sha256")) == 64
        assert nc.getncattr("input_file") == "s.raw"
        assert len(nc.getncattr("input_sha256")) == 64
    # and it reads back in the toolkit's units
    assert read_spectra(outputs["predict"])["TS"].attrs["units"] == "dB re 1 m2"


def test_input_checksum_is_the_files(outputs) -> None:
    import hashlib

    digest = hashlib.sha256(outputs["raw"].read_bytes()).hexdigest()
    assert read_spectra(outputs["extract"]).attrs["input_sha256"] == digest


def test_csv_stays_a_plain_table_with_its_provenance_beside_it(outputs) -> None:
    import pandas as pd

    table = pd.read_csv(outputs["csv"])
    assert {"depth", "latitude", "longitude", "vessel_log", "ping_number"} <= set(table.columns)
    side = json.loads(outputs["csv"].with_name("p.csv.provenance.json").read_text())
    assert side["describes"] == "p.csv" and side["input_file"] == "s.raw"
    assert len(side["model_sha256"]) == 64 and side["software_version"]


def test_the_check_catches_what_it_should(tmp_path: Path) -> None:
    """The check is not vacuous: spectra written by plain xarray (a variable in decibels
    without a standard name, a _FillValue on the frequency coordinate) fail it at high
    priority, and ``write_spectra`` fixes both."""
    from ts_toolkit.spectra import make_spectra, write_spectra

    ds = make_spectra([38e3, 70e3], [[-50.0, -48.0]], range=[5.0])
    ds["Sp"] = ("target", [-52.0], {"units": "dB re 1 m2", "long_name": "Sp"})
    plain = tmp_path / "plain.nc"
    ds.to_netcdf(plain, engine="netcdf4")
    serious, _ = cf_check(plain)
    messages = " ".join(m for _, _, msgs in serious for m in msgs)
    assert "not recognized by UDUNITS" in messages and "_FillValue" in messages, serious
    assert cf_check(write_spectra(ds, tmp_path / "ours.nc")) == ([], [])


def test_checksum_of_a_store_directory_follows_its_files(tmp_path: Path) -> None:
    from ts_toolkit.conventions import file_sha256

    store = tmp_path / "x.zarr"
    (store / "g").mkdir(parents=True)
    (store / "a").write_bytes(b"1")
    (store / "g" / "b").write_bytes(b"2")
    first = file_sha256(store)
    assert len(first) == 64 and first == file_sha256(store)
    (store / "g" / "b").write_bytes(b"3")  # a changed chunk
    assert file_sha256(store) != first
    (store / "g" / "b").write_bytes(b"2")
    assert file_sha256(store) == first
    (store / "g" / "b").rename(store / "g" / "c")  # a renamed one
    assert file_sha256(store) != first
