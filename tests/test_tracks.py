"""Target tracks: the tracker on known positions, linear averaging, and a synthetic EK80 survey
of fish crossing the beam read back, tracked and classified per track."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ts_toolkit.errors import InvalidParameterError
from ts_toolkit.matching import score_tracks
from ts_toolkit.modelfile import bundled_model_path
from ts_toolkit.spectra import make_spectra
from ts_toolkit.tracks import (
    NO_TRACK,
    TrackerSettings,
    add_ping_consensus,
    assign_tracks,
    linear_mean_db,
    positions,
    track_targets,
)

F = np.array([70e3, 120e3, 200e3])
T0 = np.datetime64("2025-01-01T12:00:00", "ns")


def _detections(rows: list[tuple[int, float, float, float, float]]):
    """Spectra from (ping, range m, along deg, athwart deg, TS dB) rows (1 s pings)."""
    ping = np.array([r[0] for r in rows])
    ts = np.array([[r[4]] * F.size for r in rows])
    return make_spectra(
        F,
        ts,
        ping_time=T0 + ping * np.timedelta64(1, "s"),
        range=np.array([r[1] for r in rows]),
        angle_alongship=np.array([r[2] for r in rows]),
        angle_athwartship=np.array([r[3] for r in rows]),
        channel=np.array(["ES120"] * len(rows), dtype=object),
    )


def test_two_fish_one_metre_apart_and_a_stray_echo() -> None:
    """Two fish crossing the beam 1 m apart in range stay two tracks; a lone echo (and a
    two-ping run, shorter than min_length) gets none."""
    rows = []
    for p in range(8):
        along = -1.5 + 3.0 * p / 7
        rows.append((p, 12.0 + 0.01 * p, along, 0.3, -50.0))
        rows.append((p, 13.0 - 0.01 * p, -along, -0.4, -45.0))
    rows.append((3, 20.0, 0.0, 0.0, -60.0))  # a stray echo
    rows += [(5, 25.0, 0.0, 1.0, -55.0), (6, 25.0, 0.1, 1.0, -55.0)]  # too short
    spectra = _detections(rows)
    track = assign_tracks(spectra)
    first, second = track[0::2][:8], track[1::2][:8]
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] != second[0]
    assert set(track[16:]) == {NO_TRACK}
    tagged, tracks = track_targets(spectra)
    assert tracks.sizes["target"] == 2
    assert list(tracks["n_pings"].values) == [8, 8]
    np.testing.assert_allclose(tracks["TS"].values[0], -50.0, atol=1e-4)
    assert tagged.attrs["tracker"] and tracks.attrs["untracked_targets"] == 3


def test_a_missed_ping_is_bridged_two_are_not() -> None:
    rows = [(p, 10.0, -1.0 + 0.2 * p, 0.0, -50.0) for p in (0, 1, 2, 4, 5, 6)]
    assert set(assign_tracks(_detections(rows))) == {0}
    rows = [(p, 10.0, -1.0 + 0.2 * p, 0.0, -50.0) for p in (0, 1, 2, 5, 6, 7)]
    assert sorted(set(assign_tracks(_detections(rows)))) == [0, 1]
    bridged = assign_tracks(_detections(rows), TrackerSettings(max_missed=2))
    assert set(bridged) == {0}


def test_positions_and_linear_mean() -> None:
    xyz = positions(np.array([10.0]), np.array([0.0]), np.array([0.0]))
    np.testing.assert_allclose(xyz, [[0.0, 0.0, 10.0]])
    xyz = positions(np.array([10.0]), np.array([90.0]), np.array([0.0]))
    np.testing.assert_allclose(xyz, [[10.0, 0.0, 0.0]], atol=1e-12)
    mean = linear_mean_db(np.array([[-50.0, np.nan], [-40.0, -40.0]]))
    np.testing.assert_allclose(mean, [10 * np.log10((1e-5 + 1e-4) / 2), -40.0])


@pytest.mark.parametrize(
    "settings",
    [{"gate": 0}, {"max_speed": -1}, {"alpha": 0}, {"beta": 1.5}, {"min_length": 0}],
)
def test_bad_settings_are_refused(settings) -> None:
    with pytest.raises(InvalidParameterError, match="tracker"):
        TrackerSettings(**settings)


def test_spectra_without_positions_are_refused() -> None:
    spectra = make_spectra(F, np.zeros((2, F.size)))
    with pytest.raises(InvalidParameterError, match="ping_time"):
        assign_tracks(spectra)


@pytest.fixture(scope="module")
def fish_survey(tmp_path_factory) -> tuple[Path, object]:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import truth_dataset, write_raw
    from ts_toolkit_plugins.ek80.synth.tracks import make_track_survey

    survey = make_track_survey(
        5, 3, pings_per_fish=(4, 7), simulator="stanton-sphere", space=demo_space()
    )
    raw = tmp_path_factory.mktemp("fish") / "fish.raw"
    write_raw(survey, raw)
    return raw, truth_dataset(survey, raw)


def test_fish_crossing_the_beam_are_tracked_one_track_each(fish_survey) -> None:
    from ts_toolkit_plugins.ek80.source import Ek80Source

    raw, truth = fish_survey
    assert np.unique(truth["track"].values).size == 5
    found = Ek80Source().open(raw, min_ts=-90.0)
    tagged, tracks = track_targets(found)
    score = score_tracks(tagged, truth)
    assert score["missed_echoes"] == 0
    assert score == {**score, "fish": 5, "recovered": 5, "split": 0, "merged": 0}
    assert tracks.sizes["target"] == 5
    assert sorted(tracks["n_pings"].values) == sorted(
        np.bincount(truth["track"].values.astype(int)).tolist()
    )


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model in this checkout")
def test_predict_tracks_writes_one_row_per_track(fish_survey, tmp_path: Path) -> None:
    raw, _ = fish_survey
    out = tmp_path / "fish.csv"
    cmd = [sys.executable, "-m", "ts_toolkit", "predict", str(raw), "--tracks"]
    done = subprocess.run(
        [*cmd, "--min-ts", "-90", "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "5 tracks (0 targets in no track;" in " ".join(done.stdout.split())
    with out.with_name("fish.tracks.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and {"track", "n_pings", "kind", "a", "theta"} <= set(rows[0])
    assert {"majority_pred_kind", "median_pred_a", "median_pred_theta"} <= set(rows[0])
    with out.open() as fh:
        per_ping = list(csv.DictReader(fh))
    assert {r["track"] for r in per_ping} == {"0", "1", "2", "3", "4"}
    again = subprocess.run(
        [*cmd, "--min-ts", "-90", "--out", str(out)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "already exists" in again.stderr  # nothing overwritten


def test_ping_consensus_is_the_majority_kind_and_the_median() -> None:
    import xarray as xr

    per_ping = xr.Dataset(
        {
            "track": ("target", np.array([0, 0, 0, 1, 1, -1])),
            "pred_kind": ("target", np.array(["gas", "liquid", "gas", "gas", "liquid", "gas"])),
            "pred_probability": ("target", np.array([0.9, 0.8, 0.9, 0.6, 0.99, 0.5])),
            "pred_a": ("target", np.array([1.0, 5.0, 2.0, 3.0, 4.0, 100.0])),
        }
    )
    tracks = xr.Dataset({"track": ("target", np.array([0, 1]))})
    out = add_ping_consensus(tracks, per_ping)
    assert list(out["majority_pred_kind"].values) == ["gas", "liquid"]  # tie: the surer kind
    np.testing.assert_allclose(out["median_pred_a"].values, [2.0, 3.5])


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model in this checkout")
def test_predict_tracks_report_has_the_tracks(fish_survey, tmp_path: Path, monkeypatch) -> None:
    from ts_toolkit.cli import main

    raw, _ = fish_survey
    report = tmp_path / "fish.html"
    args = ["predict", str(raw), "--tracks", "--report", str(report), "--min-ts", "-90"]
    monkeypatch.setattr("sys.argv", ["ts-toolkit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    text = report.read_text()
    assert "<h2>Tracks</h2>" in text and "<p>5 tracks; " in text
    assert text.split('<table class="tracks">')[1].split("</table>")[0].count("<tr>") == 6
    # without --tracks, no such section
    monkeypatch.setattr("sys.argv", ["ts-toolkit", *args[:2], *args[3:], "--overwrite"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    assert "<h2>Tracks</h2>" not in report.read_text()
