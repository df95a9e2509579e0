"""ek80 plugin: the seabed detector on a synthetic seabed of known range over many pings,
its consistency between pings, the signal-to-background criterion against the skirts of
strong echoes, and merged channel labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ts_toolkit.errors import TsToolkitWarning
from ts_toolkit_plugins.ek80.bottom import Bottom, consistent_bottoms, keep_above
from ts_toolkit_plugins.ek80.core import process_ping
from ts_toolkit_plugins.ek80.detection import DetectionSettings
from ts_toolkit_plugins.ek80.synth.ping import PointTarget, synthetic_ping

SEABED = 12.0  # m
#: the detected leading edge of the 2 cm rough synthetic seabed lies within this of its
#: mean range (measured: -0.13 to +0.02 m over 3 channels x 6 pings)
TOLERANCE = 0.15


@pytest.fixture(scope="module")
def seabed_survey(tmp_path_factory) -> tuple[Path, list]:
    """8 pings of one 120 kHz channel over a seabed at 12 m; a -45 dB fish 1 m above the
    seabed in odd pings and at 6 m in even ones (``Seabed`` defaults: sb -20 dB)."""
    from ts_toolkit_plugins.ek80.synth import Seabed, Survey, SyntheticTarget, write_raw
    from ts_toolkit_plugins.ek80.synth.settings import (
        SURVEY_WATER,
        SurveySettings,
        default_channels,
    )

    n = 8
    settings = SurveySettings(
        default_channels("120"), SURVEY_WATER, max_range=SEABED + 3.0, noise_db=-150.0
    )
    f = np.array([30e3, 300e3])
    fish = [
        SyntheticTarget(p, SEABED - 1.0 if p % 2 else 6.0, 0.5, -0.3, f, np.array([-45.0] * 2))
        for p in range(n)
    ]
    survey = Survey(settings, fish, n, seed=5, seabed=Seabed(SEABED))
    path = tmp_path_factory.mktemp("seabed") / "seabed.raw"
    write_raw(survey, path)
    return path, fish


def test_synthetic_seabed_recovered_in_every_ping_and_fish_kept(seabed_survey) -> None:
    from ts_toolkit_plugins.ek80.core import Replica
    from ts_toolkit_plugins.ek80.reader import iter_fm_pings

    path, fish = seabed_survey
    bottoms, peaks = [], []
    replica = None
    for i, ping in enumerate(iter_fm_pings(path, {})):
        replica = replica or Replica.build(ping)
        result = process_ping(ping, DetectionSettings(min_ts=-90.0), replica=replica)
        bottoms.append(result.bottom)
        peaks.append(float(np.max(result.sp[result.ranges > SEABED - 0.3])))
        assert [round(t["range"], 2) for t in result.targets] == [round(fish[i].range, 2)]
    error = np.array(bottoms) - SEABED
    assert np.all(np.abs(error) <= TOLERANCE), error
    assert -27.0 <= np.median(peaks) <= -20.0  # a seabed as weak as the real 120 kHz ones


def test_source_reports_the_seabed_per_target(seabed_survey) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    path, fish = seabed_survey
    ds = Ek80Source().open(path, min_ts=-90.0)
    assert ds.sizes["target"] == len(fish)
    assert np.all(np.abs(ds["bottom_range"].values - SEABED) <= TOLERANCE)
    assert ds["bottom_range"].attrs["units"] == "m"
    assert "detec_bottom_algo_v4" in ds.attrs["bottom_method"]
    assert '"pings_with_seabed": 8' in ds.attrs["bottom_summary"]
    assert np.all(ds["range"].values < ds["bottom_range"].values - 0.5)


def test_no_seabed_in_a_ping_of_single_targets() -> None:
    """Strong single targets (-35 dB at 5 m: S_a -28 dB) are not a seabed."""
    targets = [PointTarget(5.0, -35.0), PointTarget(9.0, -40.0, 1.0, 0.5)]
    result = process_ping(synthetic_ping(targets, n_samples=2000), DetectionSettings(min_ts=-60))
    assert np.isnan(result.bottom)
    assert result.seabed is not None and result.seabed.sa < -27.0
    assert "S_a" in result.seabed.reason
    assert len(result.targets) == 2


def test_bottom_guard_off_and_deprecated_fixed_level() -> None:
    targets = [PointTarget(5.0, -40.0), PointTarget(9.0, 5.0)]
    ping = synthetic_ping(targets, n_samples=2000)
    off = process_ping(ping, DetectionSettings(min_ts=-60, bottom_sp=None))
    assert np.isnan(off.bottom) and off.seabed is None
    fixed = process_ping(ping, DetectionSettings(min_ts=-60, bottom_sp=-15.0))
    assert fixed.bottom == pytest.approx(9.0, abs=0.05)
    assert [round(t["range"], 1) for t in fixed.targets] == [5.0]


def test_running_median_replaces_jumps_and_fills_dropouts() -> None:
    raw = np.array([20.0, 20.1, 19.9, 14.0, 20.0, np.nan, 20.2, 20.1, 19.8])
    out = consistent_bottoms(raw, half=3, max_jump=0.5)
    assert out[3] == pytest.approx(20.0, abs=0.15)  # a school taken for the seabed
    assert out[5] == pytest.approx(20.05, abs=0.15)  # a ping where none was found
    keep = np.isfinite(raw) & (np.arange(raw.size) != 3)
    np.testing.assert_array_equal(out[keep], raw[keep])
    # no consensus, nothing invented
    assert np.isnan(consistent_bottoms(np.array([np.nan, np.nan, 12.0]), 1, 0.5)[0])


def test_source_consistency_restores_and_drops_targets() -> None:
    from ts_toolkit_plugins.ek80.core import PingResult
    from ts_toolkit_plugins.ek80.source import apply_consistent_bottoms

    def result(bottom: float, ranges: list[float]) -> PingResult:
        targets = [{"range": r, "bottom_range": bottom} for r in ranges]
        kept, below = keep_above(targets, bottom, 0.5)
        return PingResult(
            np.empty(0),
            np.empty(0),
            None,
            None,
            None,
            np.empty(0),
            kept,
            {"accepted": len(kept), "below_bottom": len(below)},
            bottom,
            Bottom(bottom),
            below,
        )

    pings = [("ch", result(20.0, [5.0])) for _ in range(4)]
    pings.insert(2, ("ch", result(12.0, [5.0, 15.0])))  # a school at 12 m taken for the seabed
    pings.append(("ch", result(25.0, [5.0, 22.0])))  # the seabed seen too deep: 22 m is below it
    summary = apply_consistent_bottoms(pings, DetectionSettings(), _settings())
    odd = pings[2][1]
    assert odd.bottom == 20.0 and [t["range"] for t in odd.targets] == [5.0, 15.0]
    last = pings[-1][1]
    assert last.bottom == 20.0 and [t["range"] for t in last.targets] == [5.0]
    assert summary["ch"]["changed_by_running_median"] == 2


def _settings():
    from ts_toolkit_plugins.ek80.bottom import BottomSettings

    return BottomSettings(median_pings=5, max_jump=0.5)


_RNG = np.random.default_rng(27)
_DELAYS = _RNG.uniform(0.0, 2e-3, 40)  # s
_WEIGHTS = _RNG.normal(size=40) + 1j * _RNG.normal(size=40)


def deep_nulls(f: np.ndarray) -> np.ndarray:
    """An irregular TS(f) with deep nulls (the modulus of 40 random arrivals over 2 ms,
    mean -45 dB), like the Table I spheroids': its zero-phase echo has a long symmetric
    speckled skirt, as in the synthetic surveys."""
    field = np.abs(np.exp(2j * np.pi * np.multiply.outer(f, _DELAYS)) @ _WEIGHTS)
    return -45.0 + 20 * np.log10(field / np.sqrt(np.sum(np.abs(_WEIGHTS) ** 2)))


def test_skirt_of_a_strong_echo_is_not_a_string_of_targets() -> None:
    ping = synthetic_ping([PointTarget(10.0, deep_nulls, 0.4, -0.2)], n_samples=3000)
    loose = process_ping(ping, DetectionSettings(min_ts=-120, min_sbr=None, bottom_sp=None))
    assert len(loose.targets) > 1  # the skirt's ripples pass every other criterion
    result = process_ping(ping, DetectionSettings(min_ts=-120, bottom_sp=None))
    assert [round(t["range"], 1) for t in result.targets] == [10.0]
    assert result.counts["background"] >= len(loose.targets) - 1


def test_weak_isolated_target_passes_the_background_criterion() -> None:
    targets = [PointTarget(6.0, -40.0, 0.3, 0.2), PointTarget(9.0, -85.0, -0.5, 0.4)]
    ping = synthetic_ping(targets, n_samples=2000, noise=1e-6, rng=np.random.default_rng(1))
    result = process_ping(ping, DetectionSettings(min_ts=-100))
    assert [round(t["range"], 1) for t in result.targets] == [6.0, 9.0]


def test_merged_channel_labels_in_ascending_frequency() -> None:
    from ts_toolkit_plugins.ek80.merge import merge_targets

    t0 = np.datetime64("2024-01-01T00:00:00")
    bands = {"ES200": (160e3, 260e3), "ES70": (45e3, 90e3), "ES120": (90e3, 170e3)}
    targets = []
    for ch, (lo, hi) in bands.items():
        f = np.arange(lo, hi + 1, 5e3)
        targets.append(
            {
                "channel": ch,
                "ping_time": t0,
                "range": 10.0,
                "frequency": f,
                "TS": np.full(f.size, -50.0),
                "angle_alongship": 0.1,
                "angle_athwartship": 0.2,
                "beam_compensation": 0.1,
                "bottom_range": {"ES200": 20.0, "ES70": 20.2, "ES120": np.nan}[ch],
            }
        )
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        (merged,) = merge_targets([targets[i] for i in order])
        assert merged["channel"] == "ES70+ES120+ES200"
        assert merged["bottom_range"] == 20.0


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from ts_toolkit.cli import app

    return CliRunner().invoke(app, args, terminal_width=200)


def test_cli_synth_seabed_then_extract_with_and_without_the_guard(tmp_path) -> None:
    from ts_toolkit.spectra import read_spectra

    raw = tmp_path / "bed.raw"
    r = _invoke(
        [
            "synth-raw",
            "--out",
            str(raw),
            "--targets",
            "2",
            "--seed",
            "4",
            "--channels",
            "120",
            "--simulator",
            "stanton-sphere",
            "--max-range",
            "12",
            "--seabed",
            "14",
        ]
    )
    assert r.exit_code == 0, r.output
    assert "seabed at 14 m" in r.output
    out = tmp_path / "bed.nc"
    r = _invoke(["extract", str(raw), "--out", str(out), "--min-ts", "-90"])
    assert r.exit_code == 0, r.output
    ds = read_spectra(out)
    assert ds.sizes["target"] == 2
    assert np.all(np.abs(ds["bottom_range"].values - 14.0) <= TOLERANCE)
    extract = ["extract", str(raw), "--out", str(out), "--min-ts", "-90", "--overwrite"]
    r = _invoke([*extract, "-O", "bottom_sp=none"])
    assert r.exit_code == 0, r.output
    ds = read_spectra(out)
    assert np.all(np.isnan(ds["bottom_range"].values))
    assert ds.attrs["bottom_method"].startswith("none")
    with pytest.warns(TsToolkitWarning, match="bottom_sp=999 is deprecated"):
        r = _invoke([*extract, "-O", "bottom_sp=999"])
    assert r.exit_code == 0, r.output
    assert read_spectra(out).attrs["bottom_method"].startswith("fixed level (deprecated)")
    r = _invoke(["synth-raw", "--out", str(tmp_path / "x.raw"), "--seabed", "20"])
    assert r.exit_code != 0  # the seabed must lie beyond --max-range (25 m by default)
    assert "must lie beyond the farthest target range" in str(r.exception)
