"""EK80 data converted by echopype (a ``.zarr`` store, an EchoData ``.nc`` file, an
in-memory ``EchoData``) gives the same targets and TS(f) as the ``.raw`` file it came from:
on a synthetic survey from our writer and on the shared FM file. Damaged or non-EK80
echopype data is a one-line error."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SHARED

import ts_toolkit as tt
from ts_toolkit.errors import InputFileError, TsToolkitError
from ts_toolkit.modelfile import bundled_model_path
from ts_toolkit.spectra import input_warnings
from ts_toolkit_plugins.ek80.source import Ek80Source

ep = pytest.importorskip("echopype")

FM_FILE = SHARED / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"
RANGE_TOL = 1e-3  # m
TS_TOL = 0.01  # dB


def open_raw(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ep.open_raw(str(path), sonar_model="EK80")


def convert(raw: Path) -> dict[str, Path]:
    """``raw`` converted by echopype to a .zarr store and an EchoData .nc beside it."""
    ed = open_raw(raw)
    out = {"zarr": raw.with_suffix(".zarr"), "nc": raw.with_suffix(".nc")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ed.to_zarr(str(out["zarr"]), overwrite=True)
        ed.to_netcdf(str(out["nc"]), overwrite=True)
    return out


def assert_same_targets(want: xr.Dataset, got: xr.Dataset) -> tuple[float, float]:
    """Same targets (channel, ping, range within 1 mm) and TS(f) (within 0.01 dB, NaN in
    the same places); returns the largest range (m) and TS (dB) differences."""
    n = want.sizes["target"]
    assert n > 0
    assert got.sizes["target"] == n
    np.testing.assert_array_equal(got["frequency"].values, want["frequency"].values)
    np.testing.assert_array_equal(got["channel"].values, want["channel"].values)
    np.testing.assert_array_equal(got["ping_time"].values, want["ping_time"].values)
    d_range = float(np.max(np.abs(got["range"].values - want["range"].values)))
    assert d_range <= RANGE_TOL
    a, b = want["TS"].values, got["TS"].values
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.isfinite(a).any()
    d_ts = float(np.nanmax(np.abs(a - b)))
    assert d_ts <= TS_TOL
    for name in ("depth", "latitude", "longitude", "vessel_log", "ping_number"):
        if name in want:  # where the targets are: from the same navigation and ping times
            np.testing.assert_allclose(got[name].values, want[name].values, atol=1e-9)
    return d_range, d_ts


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> dict[str, Path]:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    raw = tmp_path_factory.mktemp("echopype-in") / "survey.raw"
    write_raw(make_survey(4, 7, simulator="stanton-sphere", space=demo_space()), raw)
    return {"raw": raw, **convert(raw)}


@pytest.fixture(scope="module")
def survey_targets(survey) -> xr.Dataset:
    return tt.extract(survey["raw"], min_ts=-90.0)


@pytest.mark.parametrize("kind", ["zarr", "nc", "memory"])
def test_synthetic_survey_same_targets(survey, survey_targets, kind: str) -> None:
    source = open_raw(survey["raw"]) if kind == "memory" else survey[kind]
    got = tt.extract(source, min_ts=-90.0)
    assert survey_targets.sizes["target"] >= 4  # every placed target, at least
    assert_same_targets(survey_targets, got)
    assert got.attrs["source_format"] == "echopype EchoData"
    assert got.attrs["pings_read"] == survey_targets.attrs["pings_read"]
    assert input_warnings(got) == []


@pytest.mark.parametrize("kind", ["zarr", "nc", "memory"])
def test_shared_fm_file_same_targets(tmp_path: Path, kind: str) -> None:
    if not FM_FILE.exists():
        pytest.skip(f"shared EK80 file not found at {FM_FILE}")
    raw = tmp_path / FM_FILE.name
    shutil.copy(FM_FILE, raw)
    options = {"single_beam": True, "min_ts": -200.0, "max_range": 20.0}
    want = tt.extract(raw, **options)
    source = open_raw(raw) if kind == "memory" else convert(raw)[kind]
    got = tt.extract(source, **options)
    assert want.sizes["target"] == 10
    assert_same_targets(want, got)
    assert got.attrs["calibration_source"] == want.attrs["calibration_source"]


def test_can_open_and_suffixes(survey, tmp_path: Path) -> None:
    src = Ek80Source()
    assert {".raw", ".zarr", ".nc"} <= set(src.suffixes)
    assert src.can_open(survey["zarr"]) and src.can_open(survey["nc"])
    assert src.can_open(survey["raw"])
    spectra = tmp_path / "spectra.nc"
    tt.extract(survey["raw"], min_ts=-90.0).to_netcdf(spectra)
    assert not src.can_open(spectra)  # a NetCDF file, not EchoData
    folder = tmp_path / "plain.zarr"
    folder.mkdir()
    assert not src.can_open(folder)
    ed = open_raw(survey["raw"])
    assert src.can_open_object(ed)
    assert not src.can_open_object(xr.Dataset())


def test_batch_finds_stores_and_does_not_search_inside(survey, tmp_path: Path) -> None:
    from ts_toolkit.batch import collect_inputs

    folder = tmp_path / "cruise"
    folder.mkdir()
    shutil.copytree(survey["zarr"], folder / "a.zarr")
    shutil.copy(survey["nc"], folder / "b.nc")
    (folder / "notes.nc").write_bytes(b"not netcdf")
    unreadable: list[Path] = []
    found = collect_inputs([folder], unreadable)
    assert found == [(folder / "a.zarr").resolve(), (folder / "b.nc").resolve()]
    assert unreadable == [(folder / "notes.nc").resolve()]
    assert collect_inputs([folder / "a.zarr"]) == [(folder / "a.zarr").resolve()]


def _non_ek80_zarr(zarr: Path, tmp_path: Path) -> Path:
    """A copy of ``zarr`` whose Sonar group says it holds EK60 data."""
    copy = tmp_path / "ek60.zarr"
    shutil.copytree(zarr, copy)
    meta = copy / "Sonar" / "zarr.json"
    if not meta.exists():  # zarr format 2
        meta = copy / "Sonar" / ".zattrs"
        attrs = json.loads(meta.read_text())
        attrs["sonar_model"] = "EK60"
    else:
        attrs = json.loads(meta.read_text())
        attrs["attributes"]["sonar_model"] = "EK60"
    meta.write_text(json.dumps(attrs))
    return copy


def _chunk_files(zarr: Path, name: str) -> list[Path]:
    folder = zarr / "Sonar" / "Beam_group1" / name
    return [q for q in folder.rglob("*") if q.is_file() and not q.name.startswith((".", "zarr"))]


def test_damaged_or_foreign_echodata_is_a_one_line_error(survey, tmp_path: Path) -> None:
    ek60 = _non_ek80_zarr(survey["zarr"], tmp_path)
    with pytest.raises(TsToolkitError, match="no installed source"):
        tt.extract(ek60)
    with pytest.raises(InputFileError, match="EK60 sonar; the ek80 source reads only EK80"):
        Ek80Source().open(ek60)

    lost = tmp_path / "lost.zarr"
    shutil.copytree(survey["zarr"], lost)
    for q in _chunk_files(lost, "backscatter_r"):
        q.unlink()
    with pytest.raises(
        InputFileError, match="damaged data in .*lost.zarr.*pings has a finite sample"
    ):
        tt.extract(lost, min_ts=-90.0)

    corrupt = tmp_path / "corrupt.zarr"
    shutil.copytree(survey["zarr"], corrupt)
    for q in _chunk_files(corrupt, "backscatter_i"):
        q.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(InputFileError, match="damaged data in .*corrupt.zarr"):
        tt.extract(corrupt, min_ts=-90.0)

    no_beam = tmp_path / "no-beam.zarr"
    shutil.copytree(survey["zarr"], no_beam)
    shutil.rmtree(no_beam / "Sonar" / "Beam_group1")
    with pytest.raises(InputFileError, match="no-beam.zarr"):
        tt.extract(no_beam, min_ts=-90.0)

    with pytest.raises(TsToolkitError, match="no installed source reads a builtins.dict"):
        tt.extract({"not": "echodata"})  # type: ignore[arg-type]


def test_a_ping_without_samples_is_a_warning_not_silent(survey, survey_targets) -> None:
    ed = open_raw(survey["raw"])
    beam = ed["Sonar/Beam_group1"]
    first = survey_targets["ping_time"].values[0]
    k = int(np.flatnonzero(beam["ping_time"].values == first)[0])
    for name in ("backscatter_r", "backscatter_i"):
        beam[name].values[:, k] = np.nan  # every channel of that ping lost
    got = tt.extract(ed, min_ts=-90.0)
    assert first not in got["ping_time"].values
    (message,) = input_warnings(got)
    assert "without any sample skipped" in message


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_cli_extract_zarr_and_errors(survey, survey_targets, tmp_path: Path) -> None:
    out = tmp_path / "z.spectra.nc"
    r = run_cli("extract", str(survey["zarr"]), "--min-ts", "-90", "-o", str(out))
    assert r.returncode == 0, r.stderr
    with xr.open_dataset(out) as got:
        assert_same_targets(survey_targets, got.load())
        from ts_toolkit.conventions import file_sha256

        assert got.attrs["input_sha256"] == file_sha256(survey["zarr"])  # the store's files
    ek60 = _non_ek80_zarr(survey["zarr"], tmp_path)
    r = run_cli("extract", str(ek60), "-o", str(tmp_path / "x.nc"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: not a file:"), r.stderr


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model in this checkout")
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="the bundled model is a CNN: needs torch (the optional extra 'cnn' on Python 3.13)",
)
def test_cli_predict_nc_and_batch_folder_of_stores(survey, tmp_path: Path) -> None:
    out = tmp_path / "p.nc"
    r = run_cli("predict", str(survey["nc"]), "--min-ts", "-90", "--out", str(out))
    assert r.returncode == 0, r.stderr
    want = tt.predict(survey["raw"], min_ts=-90.0)
    with xr.open_dataset(out) as got:
        np.testing.assert_array_equal(got["pred_kind"].values, want["pred_kind"].values)
        np.testing.assert_allclose(got["range"].values, want["range"].values, atol=RANGE_TOL)

    folder = tmp_path / "cruise"
    folder.mkdir()
    shutil.copytree(survey["zarr"], folder / "survey.zarr")
    combined = tmp_path / "batch" / "cruise.nc"
    r = run_cli(
        "batch",
        str(folder),
        "--model",
        str(bundled_model_path()),
        "--out",
        str(combined),
        "--scheduler",
        "synchronous",
        "--min-ts",
        "-90",
    )
    assert r.returncode == 0, r.stderr + r.stdout
    with xr.open_dataset(combined) as got:
        assert got.sizes["target"] == want.sizes["target"]
        assert set(got["file"].values.astype(str)) == {"survey.zarr"}
