"""The HTML cruise report: written by `batch` and `predict --report`, self-contained, and
rendered without console errors by a real headless Chromium (skipped when none is
installed; `.ci/run` installs it where apt-get can)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ts_toolkit.html_report import build_html_report
from ts_toolkit.modelfile import bundled_model_path

MODEL = bundled_model_path()
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


class _Resources(HTMLParser):
    """Every ``src``/``href`` of the page and the headings' text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        self._in_heading = tag in ("h1", "h2", "h3")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data.strip())


def _parse(text: str) -> _Resources:
    parser = _Resources()
    parser.feed(text)
    return parser


def _predictions(n: int = 12, positions: bool = True, trust: bool = True) -> xr.Dataset:
    """A predictions Dataset as `predict` writes it (two classes, some flagged)."""
    rng = np.random.default_rng(0)
    f = np.linspace(45e3, 260e3, 50)
    kind = np.where(np.arange(n) % 3 == 0, "liquid", "gas")
    data = {
        "TS": (("target", "frequency"), -60 + rng.normal(0, 2, (n, f.size))),
        "ping_time": (
            "target",
            np.datetime64("2026-01-01T12:00:00", "ns") + np.arange(n) * np.timedelta64(10, "s"),
        ),
        "range": ("target", rng.uniform(5, 30, n)),
        "depth": ("target", rng.uniform(10, 40, n)),
        "pred_kind": ("target", kind),
        "pred_probability": ("target", rng.uniform(0.6, 1, n)),
        "pred_a": ("target", rng.uniform(2e-3, 20e-3, n)),
        "pred_b": ("target", rng.uniform(1e-3, 5e-3, n)),
        "pred_Req": ("target", rng.uniform(1e-3, 5e-3, n)),
        "pred_theta": ("target", rng.uniform(0, 90, n)),
    }
    if positions:
        data["latitude"] = ("target", 60.0 + np.arange(n) * 1e-4)
        data["longitude"] = ("target", 5.0 + np.arange(n) * 2e-4)
    if trust:
        for name in ("a", "b", "theta"):
            value = data[f"pred_{name}"][1]
            data[f"pred_{name}_low"] = ("target", value * 0.8)
            data[f"pred_{name}_high"] = ("target", value * 1.2)
        data["pred_ood"] = ("target", np.arange(n) == 4)
        data["pred_low_coverage"] = ("target", np.zeros(n, bool))
    return xr.Dataset(data, coords={"frequency": f})


def test_report_has_every_section_and_no_external_resource() -> None:
    text = build_html_report(
        _predictions(), title="t", summary=["files: 2"], failures=[("bad.raw", "truncated")]
    )
    page = _parse(text)
    assert page.links and all(link.startswith("data:image/png;base64,") for link in page.links)
    for heading in ("Classes", "Size and tilt per class", "Depth against time", "Map"):
        assert heading in page.headings
    assert {"gas", "liquid", "Flagged out of distribution (1)"} <= set(page.headings)
    assert len(page.links) == 6  # histograms, depth-time, map, 2 class galleries, flagged
    assert "bad.raw" in text and "truncated" in text
    assert "The input files hold no positions" not in text
    assert not any(h.startswith(("Tracks", "Averaged TS(f)")) for h in page.headings)  # untracked
    # the count table: per class, with the OOD column
    assert re.search(r"<td>gas</td><td>8</td>", text) and re.search(r"<td>liquid</td><td>4<", text)


def test_report_without_positions_depth_or_trust_says_so() -> None:
    ds = _predictions(positions=False, trust=False).drop_vars("depth")
    text = build_html_report(ds, title="t")
    page = _parse(text)
    assert "The input files hold no positions." in text
    assert "Range from the transducer against time" in " ".join(page.headings)
    assert not any(h.startswith("Flagged") for h in page.headings)
    assert "<p>None.</p>" in text  # no failed files
    assert build_html_report(None, title="t").count("No classified targets") == 1
    # a source without ping times and ranges: no depth-time figure, the rest still there
    bare = _parse(build_html_report(ds.drop_vars(["ping_time", "range"]), title="t"))
    assert not any("against time" in h for h in bare.headings)
    assert {"Classes", "gas", "liquid"} <= set(bare.headings)


def _tracked(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """``ds`` with its targets in 3 tracks of 3 (and 3 in none), and the tracks' table as
    `predict --tracks` makes it (averaged TS with its spread, predictions, consensus)."""
    member = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, -1, -1, -1])
    ds = ds.assign(track=("target", member))
    first = [int(np.flatnonzero(member == k)[0]) for k in range(3)]
    tracks = ds.isel(target=first).drop_vars(["track", "latitude", "longitude"])
    tracks = tracks.assign(
        track=("target", np.arange(3)),
        n_pings=("target", np.full(3, 3)),
        TS_spread=(("target", "frequency"), np.full((3, ds.sizes["frequency"]), 1.5)),
        majority_pred_kind=("target", np.array(["gas", "gas", "liquid"])),
        median_pred_a=("target", np.array([4e-3, 5e-3, 6e-3])),
        median_pred_theta=("target", np.array([10.0, 20.0, 30.0])),
    )
    return ds, tracks


def test_report_has_a_tracks_section_only_when_tracked() -> None:
    ds, tracks = _tracked(_predictions())
    page = _parse(text := build_html_report(ds, title="t", tracks=tracks))
    assert "Tracks" in page.headings and "Averaged TS(f) of the 3 longest tracks" in page.headings
    assert "<p>3 tracks; 9 of 12 targets in tracks" in text
    table = text.split('<table class="tracks">')[1].split("</table>")[0]
    assert table.count("<tr>") == 4  # the header and one row per track
    assert "<td>2026-01-01 12:00:00</td><td>3</td>" in table  # track 0's first ping
    # the share of track 2's pings given its majority kind (2 liquid, 1 gas)
    kinds = ds["pred_kind"].values[ds["track"].values == 2]
    assert f"liquid ({np.mean(kinds == 'liquid'):.2f})" in table
    assert len(page.links) == 7  # the sections of an untracked report, and the tracks' TS(f)
    # (no Tracks section without tracks: test_report_has_every_section_and_no_external_resource)
    # tracked, but nothing followed over enough pings: the section says so
    lonely = ds.assign(track=("target", np.full(12, -1)))
    text = build_html_report(lonely, title="t")
    assert "<h2>Tracks</h2>" in text and "No target was followed over enough pings" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_chromium_renders_the_tracks_section(tmp_path: Path) -> None:
    ds, tracks = _tracked(_predictions())
    page = tmp_path / "tracked.html"
    page.write_text(build_html_report(ds, title="t", tracks=tracks))
    log = _render(page, tmp_path / "tracked.png")
    assert "CONSOLE" not in log, log


def _render(html_file: Path, screenshot: Path) -> str:
    """Chromium's log of rendering ``html_file`` headless (console messages included)."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2400",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={screenshot}",
            html_file.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_chromium_renders_the_report_without_console_errors(tmp_path: Path) -> None:
    # the check can fail: a page with a script error is caught the same way
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>nope();</script></body></html>")
    assert "CONSOLE" in _render(bad, tmp_path / "bad.png")

    page = tmp_path / "report.html"
    page.write_text(build_html_report(_predictions(), title="t", failures=[("x.raw", "bad")]))
    log = _render(page, tmp_path / "report.png")
    assert "CONSOLE" not in log, log
    from PIL import Image

    pixels = np.asarray(Image.open(tmp_path / "report.png").convert("L"), dtype=float)
    assert pixels.std() > 10  # drawn: figures and text, not a blank page


@pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")
def test_predict_report_option(tmp_path: Path, monkeypatch, capsys) -> None:
    from ts_toolkit.cli import main
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    raw = tmp_path / "survey.raw"
    write_raw(make_survey(3, 1, simulator="stanton-sphere", space=demo_space()), raw)
    report = tmp_path / "survey.html"
    args = ["predict", str(raw), "--report", str(report), "--min-ts", "-90"]
    monkeypatch.setattr("sys.argv", ["ts-toolkit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    page = _parse(report.read_text())
    assert "ts-toolkit predict: survey.raw" in page.headings
    assert "Classes" in page.headings
    # never replaced without --overwrite, and only .html
    monkeypatch.setattr("sys.argv", ["ts-toolkit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and "exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.argv", ["ts-toolkit", "predict", str(raw), "--report", "r.pdf"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and "name it .html" in capsys.readouterr().err
