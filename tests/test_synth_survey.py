"""Synthetic surveys: Table I targets, placement, reproducibility, truth files, CLI."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from ts_toolkit.errors import InvalidParameterError, TsToolkitError
from ts_toolkit.spectra import read_spectra
from ts_toolkit_plugins.ek80.synth import (
    EchoTarget,
    Environment,
    channel_ping,
    default_channels,
    make_survey,
    write_raw,
    write_truth,
)
from ts_toolkit_plugins.ek80.synth import raw_format as rf
from ts_toolkit_plugins.ek80.synth.echo import impedance_factor

SIM = "stanton-sphere"  # fast example plugin; the default prolate-spheroid is slow


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small(seed: int, **kw):
    kw.setdefault("channels", "120")
    kw.setdefault("record_range", 14.0)
    kw.setdefault("max_range", 11.0)
    return make_survey(4, seed, simulator=SIM, **kw)


def test_survey_draws_table1_targets_and_places_them():
    s = make_survey(
        6, 3, channels="70,200", n_pings=2, simulator=SIM, max_range=20.0, max_angle=1.5
    )
    assert s.n_pings == 2 and len(s.targets) == 6
    kinds = sorted(t.kind for t in s.targets)
    assert kinds == ["gas"] * 3 + ["liquid"] * 3
    for t in s.targets:
        assert 5.0 <= t.range <= 20.0
        assert np.hypot(t.angle_along, t.angle_athwart) <= 1.5 + 1e-12
        assert t.frequency[0] <= 45e3 and t.frequency[-1] >= 260e3
        assert np.all(np.isfinite(t.ts))
        p = t.parameters
        assert p["a"] == pytest.approx(p["alpha"] * p["b"])
    for p in range(2):
        r = np.sort([t.range for t in s.targets if t.ping == p])
        assert np.all(np.diff(r) >= 3.0)


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a, b, c = tmp_path / "a.raw", tmp_path / "b.raw", tmp_path / "c.raw"
    write_raw(_small(7), a)
    write_raw(_small(7), b)
    write_raw(_small(8), c)
    assert _sha(a) == _sha(b)
    assert _sha(a) != _sha(c)


def test_noise_level_matches_setting():
    ch = default_channels("120")[0]
    rng = np.random.default_rng(0)
    u = channel_ping(ch, Environment(), [], 20000, -150.0, rng)
    power = 4 * np.abs(u.mean(axis=1)) ** 2 / 8 * impedance_factor(ch)
    assert 10 * np.log10(power.mean()) == pytest.approx(-150.0, abs=0.1)
    assert channel_ping(ch, Environment(), [], 10, None, None).sum() == 0


def test_echo_lands_at_its_range():
    ch = default_channels("200")[0]
    env = Environment()
    f = np.arange(100e3, 300e3, 1e3)
    u = channel_ping(ch, env, [EchoTarget(8.0, 0.0, 0.0, f, -40 + 0 * f)], 3000, None, None)
    power = np.abs(u.mean(axis=1)) ** 2
    # the uncompressed echo spans [t0, t0 + tau] (plus filter delay)
    start = 2 * 8.0 / env.c / ch.sample_interval
    on = np.flatnonzero(power > 0.25 * power.max())
    assert start - 2 <= on[0] <= start + 30
    assert on[-1] - on[0] == pytest.approx(ch.model.pulse_duration / ch.sample_interval, rel=0.1)


def test_truth_files(tmp_path):
    s = _small(5)
    raw = write_raw(s, tmp_path / "s.raw")
    nc, csv_path = write_truth(s, tmp_path / "s.truth.nc", raw_file=raw)
    ds = read_spectra(nc)
    assert ds.sizes["target"] == 4
    for name in (
        "range",
        "angle_alongship",
        "angle_athwartship",
        "kind",
        "a",
        "b",
        "theta",
        "Req",
        "alpha",
        "rho_s",
        "c_s",
        "ping",
        "ping_time",
        "channel",
    ):
        assert name in ds
    assert ds.attrs["seed"] == 5 and ds.attrs["simulator"] == SIM
    np.testing.assert_allclose(ds["range"].values, [t.range for t in s.targets])
    np.testing.assert_allclose(ds["TS"].values, np.stack([t.ts for t in s.targets]), rtol=1e-6)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 4
    assert float(rows[0]["range"]) == pytest.approx(s.targets[0].range, rel=1e-5)
    assert rows[0]["channel"] == s.settings.channels[0].channel_id
    # ping times in the truth are the RAW3 times in the file
    times = sorted({d.time for d in rf.iter_datagrams(raw) if d.kind == "RAW3"})
    assert [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in times] == sorted(
        {r["ping_time"] for r in rows}
    )


def test_user_errors():
    with pytest.raises(InvalidParameterError, match="unknown channel"):
        make_survey(2, 1, channels="120,999", simulator=SIM)
    with pytest.raises(InvalidParameterError, match="targets"):
        make_survey(0, 1, simulator=SIM)
    with pytest.raises(InvalidParameterError, match="apart"):
        make_survey(8, 1, channels="120", n_pings=1, simulator=SIM, min_range=5.0, max_range=8.0)
    with pytest.raises(TsToolkitError, match="simulator"):
        make_survey(2, 1, simulator="no-such-simulator")


def test_cli_synth_raw(tmp_path):
    from typer.testing import CliRunner

    from ts_toolkit.cli import app  # the ek80 plugin adds synth-raw

    out = tmp_path / "cli.raw"
    args = [
        "synth-raw",
        "--out",
        str(out),
        "--targets",
        "2",
        "--seed",
        "4",
        "--channels",
        "200",
        "--noise-db",
        "-140",
        "--simulator",
        SIM,
        "--max-range",
        "9",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "cli.truth.nc").is_file()
    assert (tmp_path / "cli.truth.csv").is_file()
    assert "2 targets" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "exists" in str(again.exception)
    forced = CliRunner().invoke(app, [*args, "--overwrite", "--no-noise"])
    assert forced.exit_code == 0, forced.output
    assert "noise none" in " ".join(forced.output.split())
