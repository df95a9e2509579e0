"""With ``sample_reader=echopype``, a large EK80 file is read in parts of whole pings
(bounded memory per worker): the targets are exactly those of one read of the whole file.
(The direct reader, the default, reads one ping at a time: tests/test_ek80_direct.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SHARED

from ts_toolkit.spectra import input_warnings
from ts_toolkit_plugins.ek80 import pieces
from ts_toolkit_plugins.ek80.datagrams import scan_datagrams
from ts_toolkit_plugins.ek80.salvage import plan_salvage
from ts_toolkit_plugins.ek80.source import Ek80Source

FM_FILE = SHARED / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"
OPTIONS = {"min_ts": -90.0, "sample_reader": "echopype"}


def extract(path: Path) -> xr.Dataset:
    return Ek80Source().open(path, **OPTIONS)


def assert_same_targets(a: xr.Dataset, b: xr.Dataset) -> None:
    a = a.copy()
    b = b.copy()
    for ds in (a, b):
        ds.attrs.pop("date_created", None)
    xr.testing.assert_identical(a, b)


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    folder = tmp_path_factory.mktemp("parts")
    s = make_survey(4, 3, simulator="stanton-sphere", space=demo_space())
    return write_raw(s, folder / "survey.raw")


def test_parts_hold_whole_pings_after_the_setup(survey: Path) -> None:
    plan = plan_salvage(scan_datagrams(survey))
    parts = pieces.split_parts(plan, 300_000)
    assert len(parts) == 4  # one ping (three channels, ~0.5 MB) per part
    setup = [f for f in plan.keep if pieces.is_setup(f)]
    assert [f.xml_root for f in setup[:1]] == ["Configuration"]
    body = []
    for part in parts:
        assert part[: len(setup)] == setup
        rest = part[len(setup) :]
        assert len({f.time for f in rest if f.kind == "RAW3"}) == 1
        body += rest
    assert body == [f for f in plan.keep if not pieces.is_setup(f)]


def test_a_survey_read_in_parts_gives_the_same_targets(survey: Path, monkeypatch) -> None:
    whole = extract(survey)
    assert whole.sizes["target"] == 4
    calls = []
    real = pieces.write_frames
    monkeypatch.setattr(pieces, "write_frames", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(pieces, "PART_BYTES", 300_000)
    parted = extract(survey)
    assert len(calls) == 4  # read in four parts
    assert_same_targets(parted, whole)
    assert input_warnings(parted) == []


@pytest.mark.skipif(not FM_FILE.exists(), reason=f"{FM_FILE} not found")
def test_the_real_file_read_in_parts_gives_the_same_targets(monkeypatch) -> None:
    whole = extract(FM_FILE)
    monkeypatch.setattr(pieces, "PART_BYTES", 20_000)  # one ping per part
    assert len(pieces.split_parts(plan_salvage(scan_datagrams(FM_FILE)), 20_000)) == 6
    assert_same_targets(extract(FM_FILE), whole)


def test_a_damaged_file_read_in_parts(survey: Path, tmp_path: Path, monkeypatch) -> None:
    data = survey.read_bytes()
    cut = tmp_path / "survey.raw"
    cut.write_bytes(data[:-1])
    one_read = extract(cut)
    monkeypatch.setattr(pieces, "PART_BYTES", 300_000)
    parted = extract(cut)
    assert_same_targets(parted, one_read)
    assert parted.sizes["target"] == 3 and "kept 3 of 4 pings" in input_warnings(parted)[0]
    assert np.isfinite(parted["TS"].values).any(axis=1).all()
