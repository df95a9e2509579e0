"""ek80 plugin on real data: the CRIMAC calibration-sphere ping, the EK80 files in
../shared/ek80 (skipped when absent), CLI errors, and ``extract``/``predict`` end to end."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

FM_FILE = "fm-wbtmini-38-200kHz-6pings.raw"
CW_FILES = ("cw-complex-EK80-D20221108-T151353.raw", "cw-power-angle-small.raw")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def ek80_dir(shared_dir: Path) -> Path:
    d = shared_dir / "ek80"
    if not d.is_dir():
        pytest.skip(f"EK80 test files not found at {d}")
    return d


@functools.cache
def _open_fm(path: Path) -> xr.Dataset:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    return Ek80Source().open(path)


@pytest.fixture
def fm_spectra(ek80_dir: Path) -> xr.Dataset:
    """The FM file through the ek80 source with default settings (opened once)."""
    return _open_fm(ek80_dir / FM_FILE)


def test_sphere_ping_follows_elastic_sphere_model(ek80_dir: Path) -> None:
    """WC35 sphere (CRIMAC_TSf.json, ping 510) vs Faran's model, water from the file."""
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping
    from ts_toolkit_plugins.ek80.sphere import elastic_sphere_ts, water_density

    ping = load_crimac_ping(ek80_dir / "crimac_tsf_sphere.json")
    assert ping.calibration.source == "calibration table"
    result = process_ping(ping)
    (sphere,) = [t for t in result.targets if 5.5 < t["range"] < 6.1]
    assert sphere["angle_athwartship"] == pytest.approx(2.0, abs=0.5)  # "about 2 deg off axis"
    env = ping.environment
    theory = elastic_sphere_ts(
        result.frequency,
        0.035 / 2,
        14900.0,
        6853.0,
        4171.0,
        water_density(env.temperature, env.salinity),
        env.sound_speed,
    )
    diff = sphere["TS"] - theory
    assert result.frequency[0] == 90e3 and result.frequency[-1] == 170e3
    assert np.median(np.abs(diff)) <= 0.5
    assert np.mean(np.abs(diff) <= 1.0) >= 0.8
    assert abs(np.mean(diff)) < 0.3


def test_can_open_is_cheap_header_check(ek80_dir: Path, tmp_path: Path) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    src = Ek80Source()
    assert src.can_open(ek80_dir / FM_FILE)
    assert not src.can_open(ek80_dir / "crimac_tsf_sphere.json")
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    assert not src.can_open(empty)
    code = (
        "import sys; from ts_toolkit_plugins.ek80.source import Ek80Source; "
        f"assert Ek80Source().can_open({str(ek80_dir / FM_FILE)!r}); "
        "print(sorted(m for m in ('echopype', 'scipy.signal') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"  # no echopype (nor scipy.signal) for can_open


def test_fm_file_gives_spectra(fm_spectra: xr.Dataset) -> None:
    from ts_toolkit.spectra import validate_spectra

    ds = validate_spectra(fm_spectra)
    f = ds["frequency"].values
    # only the split-beam 34-45 kHz channel is used by default (200 kHz is single beam)
    assert f[0] == 34e3 and f[-1] == 45e3
    assert "253617-8" in ds.attrs["single_beam_channels_skipped"]
    assert ds.attrs["calibration"] == "calibration table"
    # what detection gives on this file (no sphere; seabed at ~14 m): documented in
    # docs/ek80.md; the count may change with the defaults, the schema must not
    assert ds.sizes["target"] == ds.attrs["n_targets"]
    for name in (
        "file",
        "channel",
        "ping_time",
        "range",
        "angle_alongship",
        "angle_athwartship",
        "beam_compensation",
    ):
        assert name in ds
    assert np.all(ds["range"].values > 0)


def test_fm_file_single_beam_option(ek80_dir: Path) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    ds = Ek80Source().open(ek80_dir / FM_FILE, single_beam=True, min_ts=-200.0, max_range=20.0)
    f = ds["frequency"].values
    assert f.min() == 34e3 and f.max() == 230e3
    assert np.isnan(ds["TS"].values).any()  # gap between the bands


def test_unknown_option_is_user_error(ek80_dir: Path) -> None:
    from ts_toolkit.errors import TsToolkitError
    from ts_toolkit_plugins.ek80.source import Ek80Source

    with pytest.raises(TsToolkitError, match="unknown ek80 option"):
        Ek80Source().open(ek80_dir / FM_FILE, min_tss=-50)


@pytest.mark.parametrize("name", CW_FILES)
def test_cw_only_files_give_one_line_error(ek80_dir: Path, tmp_path: Path, name: str) -> None:
    r = run_cli("extract", str(ek80_dir / name), "--out", str(tmp_path / "x.nc"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no FM (broadband) channels in" in lines[0] and name in lines[0]


def test_truncated_file_gives_one_line_error(ek80_dir: Path, tmp_path: Path) -> None:
    data = (ek80_dir / FM_FILE).read_bytes()
    bad = tmp_path / "truncated.raw"
    # cut inside the first ping: nothing complete to keep (issue 32: a file cut later keeps
    # its complete pings with a warning, see test_ek80_damaged.py)
    bad.write_bytes(data[: len(data) // 6])
    r = run_cli("extract", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "corrupt or truncated" in r.stderr and "truncated.raw" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    bad.write_bytes(data[: len(data) * 2 // 3])
    r = run_cli("extract", str(bad))
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith("warning: truncated.raw ") and "kept 3 of 4 pings" in r.stderr
    garbage = tmp_path / "garbage.raw"
    garbage.write_bytes(data[:8] + bytes(range(256)) * 40)
    r = run_cli("predict", str(garbage), "--model", str(garbage))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from ts_toolkit.cli import app

    return CliRunner().invoke(app, args, terminal_width=200)


def test_extract_writes_spectra(ek80_dir: Path, tmp_path: Path) -> None:
    from ts_toolkit.spectra import read_spectra

    raw = tmp_path / FM_FILE
    shutil.copy(ek80_dir / FM_FILE, raw)
    out = tmp_path / "spectra.nc"
    r = _invoke(["extract", str(raw), "--out", str(out), "--min-ts", "-60"])
    assert r.exit_code == 0, r.output
    ds = read_spectra(out)
    assert ds.attrs["source"] == "ek80"
    assert "single target" in r.output


class FakeModel:
    """A stand-in classifier: calls every target a 'gas' 20 mm sphere."""

    def __init__(self, frequency: np.ndarray) -> None:
        self.frequency = frequency

    def predict(self, ds: xr.Dataset) -> xr.Dataset:
        n = ds.sizes["target"]
        assert ds["TS"].shape == (n, self.frequency.size)
        return xr.Dataset(
            {
                "kind": ("target", np.array(["gas"] * n, dtype=object)),
                "probability": ("target", np.full(n, 0.9)),
                "theta": ("target", np.full(n, 90.0)),
                "a": ("target", np.full(n, 0.02)),
                "b": ("target", np.full(n, 0.02)),
                "Req": ("target", np.full(n, 0.02)),
                "alpha": ("target", np.ones(n)),
            }
        )


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import ts_toolkit.modelfile as modelfile

    grids = {"inside": np.arange(35e3, 44.5e3, 500.0), "wide": np.arange(30e3, 50e3, 1e3)}

    def load(path):
        return FakeModel(grids[Path(path).stem])

    monkeypatch.setattr(modelfile, "load_model", load)
    for name in grids:
        (tmp_path / f"{name}.tsm").write_bytes(b"fake")
    return tmp_path


def test_predict_end_to_end(ek80_dir: Path, fake_model: Path) -> None:
    raw = ek80_dir / FM_FILE
    out = fake_model / "targets.csv"
    r = _invoke(
        [
            "predict",
            str(raw),
            "--model",
            str(fake_model / "inside.tsm"),
            "--out",
            str(out),
            "--min-ts",
            "-60",
        ]
    )
    assert r.exit_code == 0, r.output
    assert "gas" in r.output and "kind" in r.output
    text = out.read_text().splitlines()
    assert text[0].startswith("ping_time") and len(text) >= 2
    nc = fake_model / "targets.nc"
    r = _invoke(
        [
            "predict",
            str(raw),
            "--model",
            str(fake_model / "inside.tsm"),
            "--out",
            str(nc),
            "--min-ts",
            "-60",
        ]
    )
    assert r.exit_code == 0, r.output
    with xr.open_dataset(nc) as ds:
        assert "pred_kind" in ds and ds.sizes["frequency"] == 19


def test_predict_band_mismatch(ek80_dir: Path, fake_model: Path) -> None:
    from ts_toolkit.errors import ModelMismatchError

    raw = ek80_dir / FM_FILE
    r = _invoke(["predict", str(raw), "--model", str(fake_model / "wide.tsm"), "--min-ts", "-60"])
    assert isinstance(r.exception, ModelMismatchError)
    assert "do not cover" in str(r.exception)
    r = _invoke(
        [
            "predict",
            str(raw),
            "--model",
            str(fake_model / "wide.tsm"),
            "--min-ts",
            "-60",
            "--band-subset",
        ]
    )
    assert r.exit_code == 0, r.output


def test_predict_without_bundled_model(ek80_dir: Path, monkeypatch, capsys) -> None:
    """An installation without the bundled model says so in one line (exit 2)."""
    import sys

    from ts_toolkit import modelfile
    from ts_toolkit.cli import main

    monkeypatch.setattr(modelfile, "bundled_model_path", lambda: None)
    monkeypatch.setattr(sys, "argv", ["ts-toolkit", "predict", str(ek80_dir / FM_FILE)])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "no model is bundled" in err and len(err.splitlines()) == 1


def test_reader_gathers_arrays(ek80_dir: Path) -> None:
    from ts_toolkit_plugins.ek80.reader import read_fm_pings

    pings, info = read_fm_pings(ek80_dir / FM_FILE)
    assert len(pings) == 12  # 6 pings x 2 FM channels
    split = [p for p in pings if p.beam_type == 17]
    single = [p for p in pings if p.beam_type == 0]
    assert len(split) == 6 and len(single) == 6
    p = split[0]
    assert p.samples.shape[0] == 3 and p.fs == 1.5e6
    assert (p.f_start, p.f_stop) == (34e3, 45e3)
    assert [s.decimation for s in p.stages] == [32, 3]
    assert p.calibration.source == "calibration table"
    assert single[0].calibration.source == "nominal"
    assert info["echopype_version"]


def test_predict_zero_targets_writes_empty_table(ek80_dir: Path, fake_model: Path) -> None:
    out = fake_model / "none.csv"
    r = _invoke(
        [
            "predict",
            str(ek80_dir / FM_FILE),
            "--model",
            str(fake_model / "inside.tsm"),
            "--out",
            str(out),
        ]
    )
    assert r.exit_code == 0, r.output
    assert "no single targets detected" in r.output
    assert out.read_text().startswith("ping_time")


def test_sphere_check_command(ek80_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "sphere.png"
    r = _invoke(
        [
            "sphere-check",
            str(ek80_dir / "crimac_tsf_sphere.json"),
            "--diameter",
            "35",
            "--range-min",
            "5",
            "--range-max",
            "7",
            "--png",
            str(png),
        ]
    )
    assert r.exit_code == 0, r.output
    assert "median |difference|" in r.output and png.stat().st_size > 10_000


def test_sphere_check_refuses_to_replace_its_figure(ek80_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "sphere.png"
    png.write_bytes(b"an older figure")
    args = ["sphere-check", str(ek80_dir / "crimac_tsf_sphere.json"), "--diameter", "35"]
    r = _invoke([*args, "--png", str(png)])
    assert "already exists; pass --overwrite" in str(r.exception)  # the CLI's one error line
    assert png.read_bytes() == b"an older figure"
    r = _invoke([*args, "--png", str(png), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert png.stat().st_size > 10_000
