"""Where the targets are (issue 30, item 3): depth, position, vessel log and ping number.

Unit tests of the NMEA parsing and interpolation (:mod:`ts_toolkit_plugins.ek80.navigation`),
a synthetic survey (the writer's navigation truth: depth within 0.05 m, position and log as
the written fixes interpolated to the ping times) through ``extract``/``predict`` and their
files, and the shared real FM file (one GGA fix and two VLW sentences).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ts_toolkit.matching import match_targets
from ts_toolkit.spectra import read_spectra
from ts_toolkit_plugins.ek80.navigation import (
    NAUTICAL_MILE,
    interpolate,
    navigation_from_sentences,
    ping_numbers,
)
from ts_toolkit_plugins.ek80.source import Ek80Source
from ts_toolkit_plugins.ek80.synth import make_survey, write_raw, write_truth
from ts_toolkit_plugins.ek80.synth import navigation as synth_nav
from ts_toolkit_plugins.ek80.synth.raw_format import nmea_sentence
from ts_toolkit_plugins.ek80.synth.survey import DEFAULT_START

SECOND = 1_000_000_000  # ns


def _t(seconds: float) -> int:
    return int(round(seconds * SECOND))


# --- parsing and interpolation ------------------------------------------------------------


def test_sentences_give_fixes_and_log_and_bad_ones_are_skipped() -> None:
    good = nmea_sentence("GPGGA,120000.00,6000.600000,N,00500.000000,E,1,10,0.9,0.0,M,45.0,M,,")
    no_fix = nmea_sentence("GPGGA,120001.00,6100.000000,N,00600.000000,E,0,00,,,M,,M,,")
    bad_checksum = good[:-2] + ("00" if good[-2:] != "00" else "11")
    log = nmea_sentence("SDVLW,12.500,N,3.000,N")
    nav = navigation_from_sentences(
        [(_t(0), good), (_t(1), no_fix), (_t(2), bad_checksum), (_t(3), log), (_t(4), "$GPXXX")]
    )
    assert nav.position_sentence == "GGA"
    assert nav.fix_time.tolist() == [_t(0)]
    assert nav.latitude[0] == pytest.approx(60.01, abs=1e-12)
    assert nav.longitude[0] == pytest.approx(5.0, abs=1e-12)
    assert nav.log_time.tolist() == [_t(3)]
    assert nav.log[0] == pytest.approx(12.5 * NAUTICAL_MILE)


def test_the_sentence_type_with_most_fixes_is_used_and_south_west_are_negative() -> None:
    rmc = [
        nmea_sentence(f"GPRMC,12000{k}.00,A,4415.000000,S,17242.000000,W,5.0,90.0,010125,,,A")
        for k in range(3)
    ]
    gll_void = nmea_sentence("GPGLL,4415.00,S,17242.00,W,120000,V,A")
    nav = navigation_from_sentences([(_t(k), s) for k, s in enumerate(rmc)] + [(_t(9), gll_void)])
    assert nav.position_sentence == "RMC" and nav.fix_time.size == 3
    assert nav.latitude[0] == pytest.approx(-(44 + 15 / 60))
    assert nav.longitude[0] == pytest.approx(-(172 + 42 / 60))


def test_interpolation_is_linear_held_at_the_ends_and_nan_beyond_max_gap() -> None:
    x = np.array([0, 10, 20]) * SECOND
    y = np.array([0.0, 1.0, 3.0])
    t = np.array([5, 15, -3, 24, -20, 40]) * SECOND
    got = interpolate(x, y, t, 5 * SECOND)
    np.testing.assert_allclose(got[:4], [0.5, 2.0, 0.0, 3.0])
    assert np.isnan(got[4:]).all()  # 20 s before the first fix, 20 s after the last
    # a long gap: halfway between two fixes 100 s apart is 50 s from both
    far = interpolate(
        np.array([0, 100]) * SECOND, np.array([0.0, 1.0]), np.array([50 * SECOND]), 5 * SECOND
    )
    assert np.isnan(far).all()


def test_longitude_is_interpolated_across_the_antimeridian() -> None:
    east = nmea_sentence("GPGGA,120000.00,0000.000000,N,17959.400000,E,1,10,0.9,0.0,M,45.0,M,,")
    west = nmea_sentence("GPGGA,120002.00,0000.000000,N,17959.400000,W,1,10,0.9,0.0,M,45.0,M,,")
    nav = navigation_from_sentences([(_t(0), east), (_t(2), west)])
    lon = nav.at(np.array([np.datetime64(_t(1), "ns")]), max_gap=10)["longitude"]
    assert abs(abs(lon[0]) - 180.0) < 1e-9  # not 0 (the average of +179.99 and -179.99)


def test_ping_numbers_count_every_ping_of_the_file() -> None:
    nt = 116_444_736_000_000_000  # 1970-01-01 in NT ticks
    raw3 = [nt + k * 10_000_000 for k in (0, 0, 1, 1, 2, 3)]  # two channels ping together
    times = np.array([np.datetime64(k, "s") for k in (3, 1, 7)], dtype="datetime64[ns]")
    assert ping_numbers(times, raw3).tolist() == [3, 1, -1]


# --- the synthetic survey ---------------------------------------------------------------


@pytest.fixture(scope="module")
def survey_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("nav")
    survey = make_survey(8, seed=3, channels="70,120", simulator="stanton-sphere")
    raw = write_raw(survey, folder / "nav.raw")
    truth, _ = write_truth(survey, folder / "nav.truth.nc", raw_file=raw)
    return raw, truth


@pytest.fixture(scope="module")
def extracted(survey_files: tuple[Path, Path]):
    raw, truth = survey_files
    found = Ek80Source().open(raw, min_ts=-90.0)
    return found, read_spectra(truth)


def test_synthetic_depth_position_log_and_ping_number_equal_the_truth(extracted) -> None:
    found, truth = extracted
    matched = match_targets(found, truth)
    idx = matched["found_index"].values
    assert (idx >= 0).sum() == truth.sizes["target"] == 8  # every target found
    got = found.isel(target=idx)
    depth_error = np.abs(got["depth"].values - truth["depth"].values)
    assert depth_error.max() <= 0.05, depth_error
    # the transducer depth counts: TransducerOffsetZ 6.5 m - WaterLevelDraft 1.5 m
    assert np.all(truth["depth"].values > truth["range"].values * 0.99 + 4.9)
    # position and log: the written fixes interpolated to each ping time
    np.testing.assert_allclose(got["latitude"].values, truth["latitude"].values, rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        got["longitude"].values, truth["longitude"].values, rtol=0, atol=1e-7
    )
    np.testing.assert_allclose(
        got["vessel_log"].values, truth["vessel_log"].values, rtol=0, atol=0.01
    )
    assert got["ping_number"].values.tolist() == truth["ping"].values.tolist()
    assert found.attrs["navigation"].startswith("8 GGA position fixes")
    assert json.loads(found.attrs["input_notes"]) == []


def test_the_pings_fall_between_fixes_so_the_positions_are_interpolated(extracted) -> None:
    """The truth is not the value of any written fix (except the last ping's, held beyond
    the last fix): a reader taking the nearest fix would fail the comparison above."""
    _, truth = extracted
    last = pd.Timestamp(truth["ping_time"].values.max()).to_pydatetime().replace(tzinfo=UTC)
    written = [r[3][0] for r in synth_nav.nav_records(DEFAULT_START, last) if r[1] == "GGA"]
    inner = truth["ping"].values < truth["ping"].values.max()
    lat = truth["latitude"].values[inner]
    assert min(min(abs(v - w) for w in written) for v in lat) > 1e-6  # ~10 cm off any fix


def test_predict_outputs_carry_depth_and_position(extracted, tmp_path: Path) -> None:
    from ts_toolkit.apply import predict_spectra, prediction_rows, write_predictions

    found, _ = extracted
    model = _tiny_model(found)
    result = predict_spectra(model, found, allow_partial=True)
    rows = prediction_rows(result)
    for name in ("ping_number", "depth", "latitude", "longitude", "vessel_log"):
        assert name in rows[0]
        assert name in result
    out = write_predictions(result, rows, tmp_path / "p.csv")
    table = pd.read_csv(out)  # still a plain table
    np.testing.assert_allclose(table["depth"], found["depth"].values)
    np.testing.assert_allclose(table["latitude"], found["latitude"].values)
    with open(out, newline="") as fh:
        assert next(csv.reader(fh))[:3] == ["ping_time", "ping_number", "channel"]
    side = json.loads((tmp_path / "p.csv.provenance.json").read_text())
    assert side["describes"] == "p.csv" and side["input_file"] == "nav.raw"
    assert len(side["input_sha256"]) == 64 and side["model"] == model.name


def _tiny_model(spectra):
    """The bundled model (its grid covers the survey's bands in part: allow_partial)."""
    from ts_toolkit.modelfile import bundled_model_path, load_model

    path = bundled_model_path()
    if path is None:
        pytest.skip("no bundled model")
    return load_model(path)


# --- the shared real file ---------------------------------------------------------------


def test_real_fm_file_gets_its_position_and_log(shared_dir: Path) -> None:
    raw = shared_dir / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"
    ds = Ek80Source().open(raw, min_ts=-100.0, single_beam=True)
    assert ds.sizes["target"] > 0
    # one GNGGA fix 4535.17468 N 01258.73182 E, within 0.5 s of all 6 pings
    np.testing.assert_allclose(ds["latitude"].values, 45 + 35.17468 / 60, atol=1e-9)
    np.testing.assert_allclose(ds["longitude"].values, 12 + 58.73182 / 60, atol=1e-9)
    np.testing.assert_allclose(ds["vessel_log"].values, 0.539 * NAUTICAL_MILE)
    # transducer at the reference point, water level 0: depth is range * vertical cosine
    assert np.all(ds["depth"].values <= ds["range"].values + 1e-9)
    assert np.all(ds["depth"].values >= ds["range"].values * np.cos(np.radians(10)))
    assert set(ds["ping_number"].values.tolist()) <= set(range(6))


# --- batch and the Python API -------------------------------------------------------------


def test_batch_and_api_outputs_carry_depth_position_and_provenance(
    survey_files: tuple[Path, Path], extracted, tmp_path: Path
) -> None:
    import hashlib
    import shutil

    import ts_toolkit
    from ts_toolkit.batch import run_batch
    from ts_toolkit.modelfile import bundled_model_path

    model = bundled_model_path()
    if model is None:
        pytest.skip("no bundled model")
    raw, _ = survey_files
    found, truth = extracted
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(raw, folder / raw.name)
    out = tmp_path / "cruise.nc"
    options = {"source": {"min_ts": -90.0}, "allow_partial": True}
    run_batch([folder], model, out, scheduler="synchronous", options=options)
    combined = read_spectra(out)
    table = pd.read_csv(out.with_suffix(".csv"))
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    np.testing.assert_allclose(np.sort(table["depth"]), np.sort(found["depth"].values))
    np.testing.assert_allclose(np.sort(combined["latitude"]), np.sort(found["latitude"].values))
    assert json.loads(combined.attrs["input_files"]) == [
        {"input_file": raw.name, "input_sha256": digest}
    ]
    side = json.loads(out.with_name("cruise.csv.provenance.json").read_text())
    assert side["input_files"][0]["input_sha256"] == digest and len(side["model_sha256"]) == 64
    # the notebook API: the same variables and provenance
    result = ts_toolkit.predict(raw, min_ts=-90.0, allow_partial=True)
    np.testing.assert_allclose(np.sort(result["depth"].values), np.sort(found["depth"].values))
    assert result.attrs["input_sha256"] == digest and result.attrs["model_file"] == model.name


def test_a_file_without_navigation_gives_nan_and_one_note(
    survey_files: tuple[Path, Path], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from ts_toolkit.spectra import input_notes
    from ts_toolkit_plugins.ek80.datagrams import scan_datagrams
    from ts_toolkit_plugins.ek80.pieces import write_frames

    raw, _ = survey_files
    bare = tmp_path / "bare.raw"
    frames = [f for f in scan_datagrams(raw).frames if f.kind != "NME0"]
    write_frames(raw, frames, bare)
    ds = Ek80Source().open(bare, min_ts=-90.0)
    assert ds.sizes["target"] == 8
    for name in ("latitude", "longitude", "vessel_log"):
        assert np.isnan(ds[name].values).all(), name
    assert np.isfinite(ds["depth"].values).all()  # the installation is still in the file
    notes = input_notes(ds)
    assert len(notes) == 2 and "no position" in notes[0] and "no vessel log" in notes[1]
    r = subprocess.run(
        [sys.executable, "-m", "ts_toolkit", "extract", str(bare), "--min-ts", "-90"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("note:")]
    assert len(lines) == 2 and "no position" in lines[0], r.stderr
