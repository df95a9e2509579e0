"""Real FM pings through the real ``.raw`` path: each CRIMAC JSON ping of ../shared/ek80
written to an EK80 ``.raw`` file by :mod:`ts_toolkit_plugins.ek80.synth.recorded` and
read back through echopype gives the same ping, the same targets and the same TS(f)
(within 0.01 dB) as the JSON loader; ``extract``, ``sphere-check`` and ``predict`` accept
them. The ``.raw`` files are written in tmp_path, not committed.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SPHERE_2 = "crimac_tsf_sphere.json"  # ../shared/ek80, WC35 at 5.79 m, 2 deg off axis
SPHERE = "real/CRIMAC_SphereCentre.json"  # WC35 on axis at 4.62 m, seabed at 13 m
TWO_SPHERES = "real/pyEcholabEK80data.json"  # 38 kHz, WC22 at 14.3 m, WC57.2 at 19.35 m
FISH = "real/CRIMAC_TSf_singlefish_2022.json"  # one fish at 12.0 m, seabed at 27 m
ALL = [SPHERE_2, SPHERE, TWO_SPHERES, FISH]
TOL_DB = 0.01


def _json(shared_dir: Path, name: str) -> Path:
    path = shared_dir / "ek80" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("real_raw")


def _raw(shared_dir: Path, raw_dir: Path, name: str) -> tuple[Path, Path]:
    """(json, raw) of a shared ping, the raw written once per module."""
    from ts_toolkit_plugins.ek80.crimac import load_crimac_record
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    src = _json(shared_dir, name)
    out = raw_dir / (Path(name).stem + ".raw")
    if not out.exists():
        ping, record = load_crimac_record(src)
        write_recorded_raw([ping], out, record)
    return src, out


def _read(path: Path):
    from ts_toolkit_plugins.ek80.reader import read_fm_pings

    pings, info = read_fm_pings(path)
    return pings, info


@pytest.mark.parametrize("name", ALL)
def test_the_raw_file_holds_the_json_ping(shared_dir, raw_dir, name) -> None:
    from ts_toolkit_plugins.ek80.calibration import TABLE_FIELDS
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping

    src, raw = _raw(shared_dir, raw_dir, name)
    a = load_crimac_ping(src)
    (b,), info = _read(raw)
    assert info["channels"][b.channel] == "calibration table"
    # RAW3 and FIL1 hold complex float32: the JSON values are float32 numbers, kept exactly
    np.testing.assert_array_equal(b.samples, a.samples.astype(np.complex64))
    assert np.array_equal(a.samples.astype(np.complex64), a.samples)
    assert [s.decimation for s in b.stages] == [s.decimation for s in a.stages]
    for sa, sb in zip(a.stages, b.stages):
        np.testing.assert_array_equal(sb.coefficients, sa.coefficients.astype(np.complex64))
    for key in ("sample_interval", "f_start", "f_stop", "slope", "transmit_power", "fs"):
        assert getattr(b, key) == getattr(a, key), key
    assert b.duration == pytest.approx(a.duration, rel=1e-7)  # float32 in echopype
    assert (b.beam_type, b.n_sectors, b.sample_offset) == (a.beam_type, a.n_sectors, 0)
    # the ping time (echopype converts the NT time through a float: within 1 µs)
    when = np.datetime64(str(a.ping_time).rstrip("Z"), "ns")
    assert abs(b.ping_time - when) <= np.timedelta64(1, "us")
    env_a, env_b = a.environment, b.environment
    for key in ("sound_speed", "temperature", "salinity", "depth", "acidity"):
        assert getattr(env_b, key) == getattr(env_a, key), key
    ca, cb = a.calibration, b.calibration
    for key in (
        "frequency_nominal",
        "gain",
        "beamwidth_along",
        "beamwidth_athwart",
        "offset_along",
        "offset_athwart",
        "sensitivity_along",
        "sensitivity_athwart",
        "z_transducer",
        "z_receiver",
    ):
        assert getattr(cb, key) == getattr(ca, key), key
    assert ca.table is not None and cb.table is not None
    for key in ("frequency", *TABLE_FIELDS):
        np.testing.assert_array_equal(cb.table[key], ca.table[key])


def _targets_json(src: Path, min_ts: float):
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping
    from ts_toolkit_plugins.ek80.detection import DetectionSettings

    return process_ping(load_crimac_ping(src), DetectionSettings(min_ts=min_ts))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("min_ts", [-50.0, -90.0])
def test_extract_on_the_raw_gives_the_json_targets_and_tsf(
    shared_dir, raw_dir, name, min_ts
) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    src, raw = _raw(shared_dir, raw_dir, name)
    expected = _targets_json(src, min_ts)
    ds = Ek80Source().open(raw, min_ts=min_ts)
    assert expected.targets, "the JSON ping has targets at this threshold"
    assert ds.sizes["target"] == len(expected.targets)
    np.testing.assert_array_equal(ds["frequency"].values, expected.frequency)
    for i, t in enumerate(expected.targets):
        assert float(ds["range"][i]) == pytest.approx(t["range"], abs=1e-9)
        assert float(ds["bottom_range"][i]) == pytest.approx(expected.bottom, abs=1e-9)
        diff = np.abs(ds["TS"].values[i] - t["TS"])
        assert np.isfinite(diff).all() and diff.max() <= TOL_DB, diff.max()


@pytest.mark.parametrize(
    ("name", "diameter", "at", "median"),
    [
        (SPHERE_2, 35.0, 5.79, 0.5),
        (SPHERE, 35.0, 4.62, 0.3),
        (TWO_SPHERES, 22.0, 14.32, 0.5),
        (TWO_SPHERES, 57.2, 19.35, 0.5),
    ],
)
def test_sphere_check_on_the_raw_equals_the_json_and_agrees_with_theory(
    shared_dir, raw_dir, name, diameter, at, median
) -> None:
    from ts_toolkit_plugins.ek80.spherecheck import sphere_check

    src, raw = _raw(shared_dir, raw_dir, name)
    on_json = sphere_check(src, diameter * 1e-3)
    on_raw = sphere_check(raw, diameter * 1e-3)  # no range window: found by its TS(f)
    (echo,) = on_raw.detections
    assert echo["range"] == pytest.approx(at, abs=0.02)
    assert np.abs(on_raw.measured - on_json.measured).max() <= TOL_DB
    st = on_raw.stats()
    assert st["median_abs"] <= median
    if name == SPHERE_2:  # its present agreement with theory, as on the JSON
        assert st["within_1dB"] >= 0.8


def test_sphere_centre_raw_seabed_at_13_m_and_no_target_beyond(shared_dir, raw_dir) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    _, raw = _raw(shared_dir, raw_dir, SPHERE)
    ds = Ek80Source().open(raw, min_ts=-90.0)
    bottom = float(ds["bottom_range"][0])
    assert 12.7 <= bottom <= 13.3
    assert (ds["range"].values < bottom - 0.5).all()


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_real_fish_from_raw_through_the_cli_extract_and_predict(shared_dir, tmp_path) -> None:
    import xarray as xr

    src = _json(shared_dir, FISH)
    raw = tmp_path / "fish.raw"
    r = _cli("ek80-json-to-raw", str(src), "--out", str(raw))
    assert r.returncode == 0, r.stderr
    assert "1 ping(s), 1 channel(s)" in r.stdout
    # an existing output is refused without --overwrite, kept unchanged
    before = raw.read_bytes()
    r = _cli("ek80-json-to-raw", str(src), "--out", str(raw))
    assert r.returncode == 2 and "already exists" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and raw.read_bytes() == before

    spectra = tmp_path / "fish.spectra.nc"
    r = _cli("extract", str(raw), "--out", str(spectra))
    assert r.returncode == 0, r.stderr
    with xr.open_dataset(spectra) as ds:
        (rng,) = ds["range"].values
        assert rng == pytest.approx(12.0, abs=0.1)
        assert 26.7 <= float(ds["bottom_range"][0]) <= 27.3

    # the bundled model (45-260 kHz) with its own default threshold; this ping covers
    # 90-170 kHz only, so --band-subset
    csv = tmp_path / "fish.csv"
    r = _cli("predict", str(raw), "--band-subset", "--out", str(csv))
    assert r.returncode == 0, r.stderr
    assert "from the model's training spectra" in r.stdout
    import pandas as pd

    table = pd.read_csv(csv)
    near = table[(table["range"] - 12.0).abs() <= 0.5]
    assert len(near) == 1  # the fish is one target
    assert near["range"].iloc[0] == pytest.approx(12.0, abs=0.1)
    assert near["TS_centre"].iloc[0] > -40.0
    assert (table["range"] < 27.0 - 0.5).all()  # no seabed echo is a target


def test_two_real_pings_in_one_file_as_two_channels(shared_dir, tmp_path) -> None:
    """The two 120 kHz sphere pings (same water) in one file: two channels, each read
    back with its own samples and calibration, and each sphere's TS(f) as from its JSON."""
    from ts_toolkit_plugins.ek80.crimac import load_crimac_record
    from ts_toolkit_plugins.ek80.source import Ek80Source
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    srcs = [_json(shared_dir, SPHERE_2), _json(shared_dir, SPHERE)]
    loaded = [load_crimac_record(s) for s in srcs]
    raw = tmp_path / "two.raw"
    write_recorded_raw([p for p, _ in loaded], raw, [r for _, r in loaded])
    pings, _ = _read(raw)
    assert len(pings) == 2 and len({p.channel for p in pings}) == 2
    ds = Ek80Source().open(raw, merge=False)
    for src in srcs:
        expected = _targets_json(src, -50.0)
        (t,) = expected.targets
        i = int(np.argmin(np.abs(ds["range"].values - t["range"])))
        assert float(ds["range"][i]) == pytest.approx(t["range"], abs=1e-9)
        assert np.abs(ds["TS"].values[i] - t["TS"]).max() <= TOL_DB


def test_pings_of_different_water_are_refused(shared_dir, tmp_path) -> None:
    from ts_toolkit.errors import TsToolkitError
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    pings = [load_crimac_ping(_json(shared_dir, n)) for n in (SPHERE, FISH)]
    with pytest.raises(TsToolkitError, match="differ in environment"):
        write_recorded_raw(pings, tmp_path / "x.raw")
    assert not (tmp_path / "x.raw").exists()


# --- without ../shared: synthetic pings ------------------------------------------------


def _synthetic(offset: int = 0, **kw):
    from ts_toolkit_plugins.ek80.calibration import Calibration
    from ts_toolkit_plugins.ek80.synth.ping import PointTarget, synthetic_ping

    cal = Calibration(120e3, 27.0, 7.0, 7.0, -0.05, 0.02, 23.0, 23.0, 75.0, 5400.0)
    # echopype reads the pulse duration as float32 (as EK80 stores it; the JSON pings'
    # 2.048 ms is 0.002047999994829297): give the ping a float32 duration, else the
    # chain's floor(duration * fs) chirp is one base-rate sample longer on the array side
    # than on the .raw side (measured: up to 0.098 dB apart at 170 kHz for 1.024 ms)
    ping = synthetic_ping(
        [PointTarget(8.0, -40.0, 1.0, -0.5)],
        duration=float(np.float32(1.024e-3)),
        calibration=cal,
        noise=1e-7,
        rng=np.random.default_rng(3),
        **kw,
    )
    if offset:
        ping = dataclasses.replace(ping, samples=ping.samples[:, offset:], sample_offset=offset)
    return ping


def test_sample_offset_survives_the_raw_path(tmp_path) -> None:
    """RAW3's offset (first sample index) is read back: the targets keep their range."""
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.detection import DetectionSettings
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    det = DetectionSettings(min_ts=-60.0, bottom_sp=None)
    whole = _synthetic()
    cut = _synthetic(offset=300)
    write_recorded_raw([cut], tmp_path / "cut.raw")
    (back,), _ = _read(tmp_path / "cut.raw")
    assert back.sample_offset == 300
    (t_whole,) = process_ping(whole, det).targets
    (t_back,) = process_ping(back, det).targets
    assert t_back["range"] == pytest.approx(t_whole["range"], abs=1e-6)
    assert t_back["range"] == pytest.approx(8.0, abs=0.05)


def test_no_calibration_table_keeps_the_nominal_gain(tmp_path) -> None:
    """Without a table the nominal values go to the Configuration (gain per pulse
    duration) and come back; the TS(f) is the same as from the arrays."""
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.detection import DetectionSettings
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    ping = _synthetic()
    assert ping.calibration.table is None
    write_recorded_raw([ping], tmp_path / "nominal.raw")
    (back,), info = _read(tmp_path / "nominal.raw")
    assert info["channels"][back.channel] == "nominal"
    assert back.calibration.gain == ping.calibration.gain
    assert back.duration == ping.duration
    det = DetectionSettings(min_ts=-60.0, bottom_sp=None)
    (a,) = process_ping(ping, det).targets
    (b,) = process_ping(back, det).targets
    assert np.abs(a["TS"] - b["TS"]).max() <= TOL_DB


def test_base_rate_prefers_the_files_receiver_rate() -> None:
    from ts_toolkit_plugins.ek80.reader import base_rate

    dt = 4.266669930075295e-05  # a 38 kHz WBT FM ping's sample interval (float32)
    assert round(64 / dt) == 1_499_999
    assert base_rate(1.5e6, 64, dt) == 1.5e6
    assert base_rate(np.nan, 64, dt) == 1_499_999.0
    assert base_rate(1.0e6, 64, dt) == 1_499_999.0  # disagrees: not taken


def test_json_to_raw_cli_errors_are_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"XML0": {}}')
    r = _cli("ek80-json-to-raw", str(bad), "--out", str(tmp_path / "x.raw"))
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert "not a CRIMAC-layout EK80 ping" in r.stderr
    assert not (tmp_path / "x.raw").exists()
    r = _cli("ek80-json-to-raw", str(bad), "--out", str(bad))
    assert r.returncode == 2 and "input file" in r.stderr
