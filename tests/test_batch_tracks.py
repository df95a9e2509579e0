"""`batch --tracks`: each file's targets followed through its pings in the worker, one
tracks table for the batch (numbered through the files), the Tracks section of the report,
resume and "already complete" with tracks.

Two synthetic EK80 surveys of fish crossing the beam (the synthetic writer's tracks, known
truth), a few pings each: the batch's tracks are the true fish, one track each.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import fake_sources
import numpy as np
import pytest
import xarray as xr

from ts_toolkit.batch import run_batch, tracks_outputs
from ts_toolkit.batch_report import write_report
from ts_toolkit.batch_tracks import tracker_options
from ts_toolkit.errors import OutputPathError
from ts_toolkit.matching import score_tracks
from ts_toolkit.modelfile import bundled_model_path
from ts_toolkit.spectra import read_spectra

MODEL = bundled_model_path()
pytestmark = pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")
#: The options `ts-toolkit batch --tracks --min-ts -90` gives run_batch.
OPTIONS = {"allow_partial": False, "source": {"min_ts": -90.0}, "tracks": tracker_options()}
#: Fish per synthetic survey (file name -> (fish, seed)).
SURVEYS = {"fish-a.raw": (3, 3), "fish-b.raw": (2, 4)}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> tuple[Path, Path, dict[str, xr.Dataset]]:
    """The surveys' folder, the batch output (run and reported, as the CLI does) and the
    truth of each file."""
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import truth_dataset, write_raw
    from ts_toolkit_plugins.ek80.synth.tracks import make_track_survey

    folder = tmp_path_factory.mktemp("tracked")
    (folder / "data").mkdir()
    truth = {}
    for name, (n_fish, seed) in SURVEYS.items():
        survey = make_track_survey(
            n_fish, seed, pings_per_fish=(5, 6), simulator="stanton-sphere", space=demo_space()
        )
        raw = folder / "data" / name
        write_raw(survey, raw)
        truth[name] = truth_dataset(survey, raw)
    out = folder / "out" / "cruise.nc"
    report = run_batch([folder / "data"], MODEL, out, scheduler="synchronous", options=OPTIONS)
    assert report.tracked and not report.failed
    write_report(report)
    return folder, out, truth


def test_tracks_table_holds_the_true_fish(tracked) -> None:
    _, out, truth = tracked
    targets = read_spectra(out)
    nc, table, sidecar = tracks_outputs(out)
    tracks = read_spectra(nc)
    n_fish = sum(n for n, _ in SURVEYS.values())
    assert tracks.sizes["target"] == n_fish
    # numbered through the batch: each target's track is a row of the tracks table
    assert sorted(tracks["track"].values.tolist()) == list(range(n_fish))
    assert set(targets["track"].values.tolist()) == set(range(n_fish))
    names = np.array([Path(f).name for f in targets["file"].values.astype(str)])
    for name, true in truth.items():
        mine = targets.isel(target=np.flatnonzero(names == name))
        score = score_tracks(mine, true)
        n = SURVEYS[name][0]
        assert score == {**score, "fish": n, "recovered": n, "split": 0, "merged": 0}, name
        assert score["missed_echoes"] == 0
    # each track's members: its pings, its file; the averaged spectrum is their mean
    for k, number in enumerate(tracks["track"].values):
        members = targets["track"].values == number
        assert int(tracks["n_pings"].values[k]) == int(members.sum())
        assert {Path(str(f)).name for f in targets["file"].values[members]} == {
            Path(str(tracks["file"].values[k])).name
        }
        # the worker averages on the file's grid, then interpolates onto the model's; the
        # members here are on the model's grid: the same up to that order (a row of another
        # track, with its own fish, would be off by dB)
        ts = targets["TS"].values[members]
        measured = np.isfinite(ts).all(axis=0)
        mean = 10 * np.log10(np.mean(10 ** (ts[:, measured] / 10), axis=0))
        off = np.abs(tracks["TS"].values[k][measured] - mean)
        assert np.median(off) < 0.01 and off.max() < 0.2, (number, np.median(off), off.max())
    assert "TS_spread" in tracks and np.nanmedian(tracks["TS_spread"].values) > 0
    assert {"pred_kind", "pred_a", "majority_pred_kind", "median_pred_a"} <= set(tracks)
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_fish and {"track", "n_pings", "pred_kind", "median_pred_theta"} <= set(
        rows[0]
    )
    per_target = out.with_suffix(".csv").read_text().splitlines()
    assert "track" in per_target[0].split(",")
    record = json.loads(sidecar.read_text())
    assert record["describes"] == table.name and record["tracker"]["min_length"] == 3
    assert record["tracked_targets"] == int((targets["track"].values >= 0).sum())
    assert record["input_files"] and json.loads(tracks.attrs["tracker"])["gate"] == 0.3
    files = out.with_name("cruise-files.csv").read_text()
    assert files.splitlines()[0].endswith("n_tracks")


def test_report_has_a_tracks_section(tracked) -> None:
    _, out, _ = tracked
    n_fish = sum(n for n, _ in SURVEYS.values())
    md = out.with_name("cruise-report.md").read_text()
    assert f"- tracks: {n_fish} (" in md and "cruise.tracks.csv" in md
    page = out.with_name("cruise-report.html").read_text()
    assert "<h2>Tracks</h2>" in page and f"<p>{n_fish} tracks;" in page
    assert page.count('<table class="tracks">') == 1
    assert "Averaged TS(f) of the" in page
    assert "Inversion fits" not in page  # a learned model's batch: no fits drawn


def test_resume_and_already_complete_with_tracks(tracked, monkeypatch, capsys) -> None:
    from ts_toolkit.batch import WorkStore
    from ts_toolkit.cli import main

    folder, out, _ = tracked
    n_fish = sum(n for n, _ in SURVEYS.values())
    before = read_spectra(tracks_outputs(out)[0])
    # the same command again: nothing to do
    argv = ["ts-toolkit", "batch", str(folder / "data"), "--out", str(out), "--tracks"]
    monkeypatch.setattr(sys, "argv", [*argv, "--min-ts", "-90", "--scheduler", "synchronous"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    said = " ".join(capsys.readouterr().out.split())
    assert f"already complete: {out} (2 files," in said and f"{n_fish} tracks); nothing" in said
    # a lost tracks table is not complete: written again from the work folder
    tracks_outputs(out)[1].unlink()
    again = run_batch([folder / "data"], MODEL, out, scheduler="synchronous", options=OPTIONS)
    assert not again.already_complete and again.skipped == 2
    assert tracks_outputs(out)[1].exists()
    # an interrupted batch (one file not done): resumed, the same tracks as before
    store = WorkStore(out)
    first = sorted((folder / "data").glob("*.raw"))[0]
    store.status_path(first.resolve()).unlink()
    store.complete_path.unlink()
    resumed = run_batch([folder / "data"], MODEL, out, scheduler="synchronous", options=OPTIONS)
    assert resumed.skipped == 1 and resumed.n_tracks == n_fish
    after = read_spectra(tracks_outputs(out)[0])
    for ds in (before, after):
        ds.attrs.pop("date_created")
    xr.testing.assert_identical(before, after)
    # the same output without tracking (or other tracker settings) is not mixed in
    with pytest.raises(OutputPathError, match="other options"):
        run_batch([folder / "data"], MODEL, out, scheduler="synchronous", options=OPTIONS_NO)


OPTIONS_NO = {k: v for k, v in OPTIONS.items() if k != "tracks"}


def test_files_without_positions_keep_their_targets_in_no_track(tmp_path, monkeypatch) -> None:
    """A source without ping times or split-beam angles: the targets are kept (track -1),
    the file says why it was not tracked, and no tracks table is written."""
    fake_sources.install(monkeypatch)
    monkeypatch.setenv("TS_TOOLKIT_PLUGINS", "")
    (tmp_path / "one.raw").write_text("targets 4")
    (tmp_path / "model.tsm").write_text("fake model")
    out = tmp_path / "out.nc"
    options = {"tracks": tracker_options()}
    # a tracks table this batch did not write is not replaced without --overwrite
    mine = tracks_outputs(out)[1]
    mine.write_text("my own table")
    with pytest.raises(OutputPathError, match="exists"):
        run_batch([tmp_path / "one.raw"], tmp_path / "model.tsm", out, options=options)
    assert mine.read_text() == "my own table" and not out.exists()
    mine.unlink()
    report = run_batch([tmp_path / "one.raw"], tmp_path / "model.tsm", out,
                       scheduler="synchronous", options=options)  # fmt: skip
    (outcome,) = report.outcomes
    assert outcome.status == "ok" and outcome.n_targets == 4 and outcome.n_tracks == 0
    assert any("not tracked" in w and "ping_time" in w for w in outcome.warnings)
    assert read_spectra(out)["track"].values.tolist() == [-1] * 4
    assert not any(p.exists() for p in tracks_outputs(out))
    write_report(report)
    page = out.with_name("out-report.html").read_text()
    assert "<h2>Tracks</h2>" in page and "No target was followed" in page
