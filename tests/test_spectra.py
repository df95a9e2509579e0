"""Spectra data model: build, validate, NetCDF round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ts_toolkit.errors import InputFileError, SpectraValidationError
from ts_toolkit.spectra import make_spectra, read_spectra, validate_spectra, write_spectra


def _example() -> xr.Dataset:
    rng = np.random.default_rng(3)
    f = np.arange(10e3, 20e3 + 1, 500.0)
    ts = rng.normal(-60, 5, size=(4, f.size))
    ts[1, 3] = np.nan
    return make_spectra(
        f,
        ts,
        attrs={"simulator": "x", "settings": {"n": 4, "kinds": ["gas"]}, "seed": 7},
        a=[0.01, 0.02, 0.03, 0.04],
        b=[0.005, 0.01, 0.01, 0.02],
        theta=[10, 20, 30, 90.0],
        kind=["gas", "liquid", "gas", "liquid"],
    )


def test_round_trip_is_identical(tmp_path):
    ds = _example()
    path = write_spectra(ds, tmp_path / "s.nc")
    back = read_spectra(path)
    xr.testing.assert_identical(ds, back)
    assert back["TS"].attrs["units"] == "dB re 1 m2"
    assert back.attrs["seed"] == 7
    assert np.isnan(back["TS"].values[1, 3])


def test_units_are_attached():
    ds = _example()
    assert ds["a"].attrs["units"] == "m"
    assert ds["theta"].attrs["units"] == "degree"
    assert ds["frequency"].attrs["units"] == "Hz"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop_vars("TS"), "variable 'TS' is missing"),
        (lambda d: d.assign(TS=d["TS"].transpose()), r"has dims \('frequency', 'target'\)"),
        (
            lambda d: d.assign_coords(
                frequency=("frequency", d["frequency"].values[::-1], {"units": "Hz"})
            ),
            "not strictly increasing",
        ),
        (lambda d: d.assign(a=d["a"].assign_attrs(units="mm")), "'a' has units 'mm'"),
        (lambda d: d.assign(TS=d["TS"].assign_attrs(units="dB")), "'TS' has units 'dB'"),
        (
            lambda d: d.assign_coords(frequency=d["frequency"].assign_attrs(units="kHz")),
            "'frequency' has units 'kHz'",
        ),
        (
            lambda d: d.assign(kind=("target", np.array(["gas", "fish", "gas", "gas"], object))),
            "'kind' has values \\['fish'\\]",
        ),
        (lambda d: d.assign(TS=d["TS"].where(d["TS"] < 0, np.inf)), "infinite"),
    ],
)
def test_validation_names_the_problem(mutate, message):
    ds = _example()
    bad = mutate(ds)
    with pytest.raises(SpectraValidationError, match=message):
        validate_spectra(bad, origin="bad.nc")


def test_read_errors(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_spectra(tmp_path / "nope.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"this is not netcdf")
    with pytest.raises(InputFileError, match="cannot read .*junk.nc"):
        read_spectra(junk)


def test_write_is_atomic_and_validates(tmp_path):
    ds = _example().drop_vars("TS")
    with pytest.raises(SpectraValidationError):
        write_spectra(ds, tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def test_spectra_files_take_no_scheduler_lock_while_a_dask_client_is_active(
    tmp_path: Path, monkeypatch
) -> None:
    """``batch`` on a cluster saves each file's result while its Client is the default:
    xarray must not guard those writes (and reads) with a ``distributed.Lock`` on the
    scheduler, a round trip per variable (about 1 s per small file)."""
    from distributed import Client, LocalCluster
    from distributed.lock import Lock

    taken = []
    real_acquire = Lock.acquire
    monkeypatch.setattr(
        Lock,
        "acquire",
        lambda self, *a, **k: taken.append(self.name) or real_acquire(self, *a, **k),
    )
    ds = make_spectra(np.linspace(45e3, 260e3, 5), np.full((2, 5), -50.0), kind=["gas", "liquid"])
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        write_spectra(ds, tmp_path / "a.nc")
        back = read_spectra(tmp_path / "a.nc")
    assert taken == []
    np.testing.assert_array_equal(back["TS"].values, ds["TS"].values)
