"""Truncated and partly corrupt EK80 ``.raw`` files: every complete ping is kept.

Files are made by cutting or corrupting the shared 6-ping FM file and a synthetic survey
(our writer, 3 channels) at chosen byte offsets: the last byte missing (a recording cut by
a power loss), a cut exactly between two datagrams of one ping, a corrupt length field in
the middle. The targets of the kept pings must be exactly those of the intact file; a ping
that lost a channel is dropped whole, and one warning line names what was lost.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SHARED

from ts_toolkit.errors import InputFileError
from ts_toolkit.spectra import input_warnings, read_spectra
from ts_toolkit_plugins.ek80.datagrams import scan_datagrams
from ts_toolkit_plugins.ek80.salvage import plan_salvage
from ts_toolkit_plugins.ek80.source import Ek80Source

FM_FILE = SHARED / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"
needs_fm = pytest.mark.skipif(not FM_FILE.exists(), reason=f"{FM_FILE} not found")
# many targets in many pings to compare (the seabed guard and the signal-to-background test,
# which would leave 2 of them, are not what these tests are about)
OPTIONS = {"min_ts": -90.0, "bottom_sp": None, "min_sbr": None}


def layout(data: bytes) -> list[tuple[int, int, bytes, str]]:
    """(start, end, type, RAW3 channel) of every datagram of an intact file (walked here,
    independently of the code under test)."""
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<i", data, pos)
        kind = data[pos + 4 : pos + 8]
        chan = data[pos + 16 : pos + 144].split(b"\0")[0].decode() if kind == b"RAW3" else ""
        out.append((pos, pos + n + 8, kind, chan))
        pos += n + 8
    assert pos == len(data)
    return out


def raw3(data: bytes) -> list[tuple[int, int, bytes, str]]:
    return [d for d in layout(data) if d[2] == b"RAW3"]


def extract(path: Path) -> xr.Dataset:
    return Ek80Source().open(path, **OPTIONS)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def targets(ds: xr.Dataset) -> dict[tuple[str, str, float], np.ndarray]:
    """TS(f) of each target keyed by (channel, ping time, range)."""
    out = {}
    for i in range(ds.sizes["target"]):
        key = (
            str(ds["channel"].values[i]),
            str(ds["ping_time"].values[i]),
            round(float(ds["range"].values[i]), 6),
        )
        out[key] = ds["TS"].values[i]
    return out


def assert_kept_exactly(part: xr.Dataset, whole: xr.Dataset, dropped_times: set[str]) -> None:
    """``part`` has exactly the targets of ``whole`` outside ``dropped_times``, identical."""
    got, want = targets(part), targets(whole)
    want = {k: v for k, v in want.items() if k[1] not in dropped_times}
    assert set(got) == set(want)
    np.testing.assert_array_equal(part["frequency"].values, whole["frequency"].values)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k], v)


def ping_times(ds: xr.Dataset) -> list[str]:
    return sorted({str(t) for t in ds["ping_time"].values})


@pytest.fixture(scope="module")
def fm() -> tuple[bytes, xr.Dataset]:
    if not FM_FILE.exists():
        pytest.skip(f"{FM_FILE} not found")
    whole = extract(FM_FILE)
    assert whole.sizes["target"] >= 5 and len(ping_times(whole)) >= 5
    return FM_FILE.read_bytes(), whole


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> tuple[bytes, xr.Dataset]:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    folder = tmp_path_factory.mktemp("survey")
    s = make_survey(3, 1, simulator="stanton-sphere", space=demo_space())
    path = write_raw(s, folder / "survey.raw")
    whole = extract(path)
    assert whole.sizes["target"] == 3 and set(whole["n_channels"].values) == {3}
    return path.read_bytes(), whole


# --- the datagram walk and the plan (no echopype) ------------------------------------


@needs_fm
def test_plan_of_a_file_missing_its_last_byte(tmp_path: Path) -> None:
    data = FM_FILE.read_bytes()
    last = raw3(data)[-1]
    plan = plan_salvage(scan_datagrams(write(tmp_path, "cut.raw", data[:-1])))
    assert (plan.n_pings, plan.kept_pings, len(plan.incomplete)) == (6, 5, 1)
    assert plan.bytes_lost == len(data) - 1 - last[0]
    assert all(f.end <= last[0] for f in plan.keep)
    warning = plan.warning()
    assert warning is not None and "\n" not in warning
    assert "kept 5 of 6 pings" in warning and f"{len(data) - 1 - last[0]:,} bytes" in warning


@needs_fm
def test_plan_of_an_intact_file_keeps_everything() -> None:
    plan = plan_salvage(scan_datagrams(FM_FILE))
    assert not plan.damaged and plan.warning() is None
    assert (plan.n_pings, plan.kept_pings) == (6, 6)
    assert len(plan.keep) == len(layout(FM_FILE.read_bytes()))


def test_a_file_damaged_in_its_configuration_is_an_error(tmp_path: Path) -> None:
    data = struct.pack("<i", 5000) + b"XML0" + b"\0" * 100
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        scan_datagrams(write(tmp_path, "head.raw", data))


# --- the real 6-ping file --------------------------------------------------------------


def test_last_byte_missing_keeps_every_complete_ping(fm, tmp_path: Path) -> None:
    data, whole = fm
    part = extract(write(tmp_path, "cut.raw", data[:-1]))
    last = ping_times(whole)[-1]
    assert last not in ping_times(part)
    assert_kept_exactly(part, whole, {last})
    (warning,) = input_warnings(part)
    assert "kept 5 of 6 pings" in warning and "bytes unreadable" in warning
    assert part.attrs["pings_read"] == 5 and part.attrs["pings_dropped"] == 1


@pytest.mark.parametrize("where", ["after-raw3", "after-parameter"])
def test_cut_between_datagrams_of_a_ping_drops_that_ping(fm, tmp_path: Path, where) -> None:
    data, whole = fm
    last = raw3(data)[-1]  # the last ping's second channel
    cut = last[0] if where == "after-parameter" else layout(data)[-3][1]
    assert layout(data)[-3][2] == b"RAW3" and layout(data)[-2][2] == b"XML0"
    part = extract(write(tmp_path, "cut.raw", data[:cut]))
    assert_kept_exactly(part, whole, {ping_times(whole)[-1]})
    (warning,) = input_warnings(part)
    assert "kept 5 of 6 pings" in warning and "1 incomplete ping dropped" in warning
    assert last[3] in warning  # the missing channel is named


@pytest.mark.parametrize("field", ["leading", "trailing"])
def test_corrupt_length_in_the_middle_resynchronises(fm, tmp_path: Path, field) -> None:
    data, whole = fm
    start, end, _, _ = raw3(data)[2]  # the second ping's first channel
    bad = bytearray(data)
    pos = start if field == "leading" else end - 4
    bad[pos : pos + 4] = struct.pack("<i", 987_654_321)
    part = extract(write(tmp_path, "corrupt.raw", bytes(bad)))
    second = sorted({str(t) for t in whole["ping_time"].values})[1]
    assert_kept_exactly(part, whole, {second})
    (warning,) = input_warnings(part)
    assert "corrupt" in warning and "kept 5 of 6 pings" in warning
    assert f"{end - start:,} bytes unreadable" in warning


def test_garbage_between_datagrams_is_skipped(fm, tmp_path: Path) -> None:
    data, whole = fm
    pos = raw3(data)[2][1]
    junk = bytes(range(256)) * 10
    part = extract(write(tmp_path, "junk.raw", data[:pos] + junk + data[pos:]))
    assert_kept_exactly(part, whole, set())
    (warning,) = input_warnings(part)
    assert "kept 6 of 6 pings" in warning and f"{len(junk):,} bytes unreadable" in warning


def test_corrupt_to_the_end_keeps_what_precedes(fm, tmp_path: Path) -> None:
    data, whole = fm
    pos = raw3(data)[5][1]  # after the third ping
    part = extract(write(tmp_path, "tail.raw", data[:pos] + b"\xff" * (len(data) - pos)))
    kept = ping_times(whole)[:3]
    assert_kept_exactly(part, whole, set(ping_times(whole)) - set(kept))
    (warning,) = input_warnings(part)
    assert "kept 3 of 3 pings" in warning and f"{len(data) - pos:,} bytes" in warning


def nt_time(data: bytes, offset: int) -> str:
    """The datagram's NT time (100 ns ticks since 1601) as echopype's ping_time string."""
    (ticks,) = struct.unpack_from("<Q", data, offset + 8)
    unix_ns = (ticks - 116_444_736_000_000_000) * 100  # 1601 -> 1970
    return str(np.datetime64(unix_ns, "ns"))


def near(t: str, times: np.ndarray) -> bool:
    """``t`` is within 1 ms of one of ``times`` (echopype's ping_time differs from the NT
    time by a few microseconds)."""
    return bool(np.min(np.abs(times - np.datetime64(t, "ns"))) < np.timedelta64(1, "ms"))


def test_every_cut_keeps_only_whole_pings(fm, tmp_path: Path) -> None:
    """Cuts at datagram boundaries and a few bytes either side, through the whole file:
    either the targets of the complete pings (identical to the intact file's) with one
    warning line, or, when no ping is complete, a one-line error.

    Expected here: a ping is complete when it has a complete RAW3 of every channel seen in
    the cut file and no RAW3 of it is cut (a cut RAW3 whose header is left names its ping).
    """
    data, whole = fm
    dgs = layout(data)
    raws = raw3(data)
    boundaries = {d[1] for d in dgs}
    cuts = sorted({d[1] + k for d in dgs[::16] for k in (-5, 3)} | {r[1] for r in raws})
    cuts = [c for c in cuts if 0 < c < len(data)]
    for c in cuts:
        chans: dict[str, set[str]] = {}
        for r in raws:
            if r[1] <= c:
                chans.setdefault(nt_time(data, r[0]), set()).add(r[3])
        seen = set().union(*chans.values()) if chans else set()
        cut_open = {nt_time(data, r[0]) for r in raws if r[0] + 16 <= c < r[1]}
        kept = {t for t, chs in chans.items() if chs == seen and t not in cut_open}
        n_pings = len(set(chans) | cut_open)
        try:
            part = extract(write(tmp_path, f"cut{c}.raw", data[:c]))
        except InputFileError as exc:
            text = str(exc)
            assert not kept, (c, exc)
            assert "no complete ping" in text or "no pings" in text or "configuration" in text
            assert "\n" not in text
            continue
        assert kept, c
        kept_ns = np.array(sorted(kept), dtype="datetime64[ns]")
        assert all(near(t, kept_ns) for t in ping_times(part)), c
        dropped = {t for t in ping_times(whole) if not near(t, kept_ns)}
        assert_kept_exactly(part, whole, dropped)
        warns = input_warnings(part)
        if c in boundaries and len(kept) == n_pings:
            assert warns == [], (c, warns)
        else:
            assert len(warns) == 1 and f"kept {len(kept)} of {n_pings} pings" in warns[0], c


# --- a synthetic 3-channel survey ------------------------------------------------------


def test_survey_cut_inside_the_last_ping_loses_no_band_silently(survey, tmp_path: Path) -> None:
    """The cut file used to give its last target without the 200 kHz band (90 NaN
    frequencies) and no warning; now that ping is dropped and counted."""
    data, whole = survey
    part = extract(write(tmp_path, "cut.raw", data[: raw3(data)[-1][0]]))
    last = ping_times(whole)[-1]
    assert_kept_exactly(part, whole, {last})
    assert not np.isnan(part["TS"].values).any()
    (warning,) = input_warnings(part)
    assert "kept 2 of 3 pings" in warning and "ES200-7C" in warning


def test_survey_missing_its_last_byte(survey, tmp_path: Path) -> None:
    data, whole = survey
    part = extract(write(tmp_path, "cut.raw", data[:-1]))
    assert_kept_exactly(part, whole, {ping_times(whole)[-1]})
    (warning,) = input_warnings(part)
    assert "kept 2 of 3 pings" in warning


def test_survey_with_a_corrupt_channel_in_the_middle(survey, tmp_path: Path) -> None:
    data, whole = survey
    start, end, _, _ = raw3(data)[4]  # second ping, second channel
    bad = bytearray(data)
    bad[end - 4 : end] = b"\0\0\0\0"
    part = extract(write(tmp_path, "bad.raw", bytes(bad)))
    assert_kept_exactly(part, whole, {ping_times(whole)[1]})
    (warning,) = input_warnings(part)
    assert "kept 2 of 3 pings" in warning and f"{end - start:,} bytes" in warning


# --- the command line and batch ---------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args], capture_output=True, text=True, timeout=300
    )


def test_extract_warns_in_one_line_and_records_it(survey, tmp_path: Path) -> None:
    data, _ = survey
    raw = write(tmp_path, "cut.raw", data[:-1])
    out = tmp_path / "cut.nc"
    r = run_cli("extract", str(raw), "--out", str(out), "--min-ts", "-90")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: cut.raw "), r.stderr
    assert "kept 2 of 3 pings" in lines[0] and "bytes unreadable" in lines[0]
    ds = read_spectra(out)
    assert input_warnings(ds) == [lines[0].removeprefix("warning: ")]
    assert ds.sizes["target"] == 2


def test_batch_keeps_the_complete_pings_and_warns(survey, tmp_path: Path) -> None:
    from ts_toolkit.batch import run_batch
    from ts_toolkit.modelfile import bundled_model_path as default_model_path

    model = default_model_path()
    if model is None:
        pytest.skip("no bundled model in this checkout")
    data, _ = survey
    folder = tmp_path / "cruise"
    folder.mkdir()
    write(folder, "whole.raw", data)
    write(folder, "cut.raw", data[: raw3(data)[-1][0]])
    out = tmp_path / "out" / "c.nc"
    report = run_batch([folder], model, out, scheduler="synchronous", options={"source": OPTIONS})
    by_name = {Path(o.path).name: o for o in report.outcomes}
    assert by_name["whole.raw"].warnings == [] and by_name["whole.raw"].n_targets == 3
    cut = by_name["cut.raw"]
    assert cut.status == "ok" and cut.n_targets == 2
    assert len(cut.warnings) == 1 and "kept 2 of 3 pings" in cut.warnings[0]
    ds = read_spectra(out)
    assert json.loads(ds.attrs["warnings"]) == cut.warnings
    assert "kept 2 of 3 pings" in out.with_name("c-files.csv").read_text()

    (tmp_path / "cli").mkdir()
    r = run_cli(
        "batch", str(folder / "cut.raw"), "--model", str(model),
        "--out", str(tmp_path / "cli" / "c.nc"), "--scheduler", "synchronous", "--min-ts", "-90",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    warn_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert warn_lines == [f"warning: {cut.warnings[0]}"]
