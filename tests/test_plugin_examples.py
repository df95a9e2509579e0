"""The third-party plugin author's path (docs/plugins.md): the three example packages in
examples/ (a Simulator, a Classifier, a Source), installed by `make test` as a user would
install them, are found through their entry points and work in the commands; a broken
plugin is a one-line warning and is skipped; plugin options are listed and validated."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ts_toolkit.plugins import list_plugins


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_the_three_examples_are_installed_plugins():
    found = {e.name: (e.kind, e.package) for e in list_plugins()}
    assert found["stanton-sphere"] == ("simulator", "ts-toolkit-stanton")
    assert found["centroid"] == ("classifier", "ts-toolkit-centroid")
    assert found["csv"] == ("source", "ts-toolkit-csv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Simulated spectra (stanton-sphere, the example Simulator) and a centroid model (the
    example Classifier) trained on them, with the project's own commands."""
    tmp = tmp_path_factory.mktemp("examples")
    (tmp / "space.toml").write_text(
        textwrap.dedent(
            """
            [frequency]
            start = 34
            stop = 45
            step = 0.5
            [kinds.gas]
            count = 200
            [kinds.liquid]
            count = 200
            Req = { min = 5e-3, max = 20e-3 }
            """
        )
    )
    r = run_cli(
        "simulate", "--out", tmp / "data.nc", "--space", tmp / "space.toml",
        "--simulator", "stanton-sphere", "--scheduler", "synchronous",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("train", tmp / "data.nc", "--model", "centroid", "--out", tmp / "centroid.tsm")
    assert r.returncode == 0, r.stderr
    return tmp


def test_example_classifier_trains_evaluates_and_round_trips(trained):
    from ts_toolkit import load_model, read_spectra

    r = run_cli(
        "evaluate", trained / "data.nc", "--model", trained / "centroid.tsm",
        "--out-dir", trained / "eval",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    model = load_model(trained / "centroid.tsm")
    ds = read_spectra(trained / "data.nc")
    pred = model.predict(ds)
    accuracy = float(np.mean(pred["kind"].values == ds["kind"].values))
    assert accuracy > 0.8  # gas bubbles and weak liquid spheres differ by tens of dB
    assert model.settings == {"ridge": 1.0, "temperature": 10.0}


def test_example_source_reads_a_table_in_predict_and_extract(trained, tmp_path):
    from ts_toolkit import read_spectra

    ds = read_spectra(trained / "data.nc").isel(target=[0, 1, 250])
    f_khz = ds["frequency"].values / 1e3
    lines = ["target,range_m," + ",".join(f"{f:g}" for f in f_khz)]
    for i, row in enumerate(ds["TS"].values):
        lines.append(f"t{i},{10 + i},{','.join(f'{v:.3f}' for v in row)}")
    table = tmp_path / "measured.csv"
    table.write_text("\n".join(lines) + "\n")
    r = run_cli("predict", table, "--model", trained / "centroid.tsm", "--max-range", "11")
    assert r.returncode == 0, r.stderr
    assert "2 single targets" in r.stdout  # the third row is at 12 m
    out = tmp_path / "spectra.nc"
    r = run_cli("extract", table, "--out", out, "-O", "min_ts=-1000")
    assert r.returncode == 0, r.stderr
    assert read_spectra(out).sizes["target"] == 3


def test_plugin_options_are_listed_and_checked(tmp_path):
    r = run_cli("plugins", "--options", "ek80", env={"COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    assert "min_ts" in r.stdout and "single_beam" in r.stdout and "Pulse-length" in r.stdout
    r = run_cli("plugins", "--options", "cnn", env={"COLUMNS": "250"})
    assert "position_channel" in r.stdout
    r = run_cli("plugins", "--options", "nope")
    assert r.returncode == 2 and r.stderr.startswith("error: no source or classifier named")
    table = tmp_path / "t.csv"
    table.write_text("target,range_m,38\nx,5,-50\n")
    r = run_cli("extract", table, "-O", "min_tss=-60")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: unknown csv option 'min_tss'; did you mean 'min_ts'?"
    r = run_cli("extract", table, "-O", "min_ts=low")
    assert r.returncode == 2 and "csv: min_ts must be a number, got 'low'" in r.stderr
    assert not table.with_name("t.spectra.nc").exists()


def _broken_plugins(root: Path) -> Path:
    """A site folder with three installed distributions whose plugins are broken: one
    fails to import, one fails in its register hook, one fails to add its commands."""
    site = root / "site"
    site.mkdir()
    (site / "broken_import.py").write_text("raise ImportError('no module named nothing')\n")
    (site / "broken_hook.py").write_text(
        "from ts_toolkit import hookimpl\n"
        "@hookimpl\n"
        "def register_simulators(register):\n"
        "    raise RuntimeError('simulator table missing')\n"
    )
    (site / "broken_commands.py").write_text(
        "from ts_toolkit import hookimpl\n"
        "@hookimpl\n"
        "def register_commands(cli):\n"
        "    raise RuntimeError('typer too old')\n"
    )
    for name in ("broken_import", "broken_hook", "broken_commands"):
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[ts_toolkit]\n{name} = {name}\n")
    return site


def test_a_broken_plugin_is_a_warning_and_is_skipped(tmp_path):
    site = _broken_plugins(tmp_path)
    r = run_cli("plugins", env={"PYTHONPATH": str(site)})
    assert r.returncode == 0, r.stderr
    assert "prolate-spheroid" in r.stdout and "ek80" in r.stdout  # the others still load
    warnings = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(warnings) == 3 and all(w.startswith("warning: plugin '") for w in warnings)
    text = "\n".join(warnings)
    assert "'broken_import' failed to load and is skipped: ImportError: no module named" in text
    assert "'broken_hook' failed to register its simulators" in text
    assert "'broken_commands' failed to add its commands" in text
    assert "Traceback" not in r.stderr
    r = run_cli("plugins", env={"PYTHONPATH": str(site), "TS_TOOLKIT_PLUGINS": "spheroid"})
    assert r.returncode == 0 and r.stderr == ""  # blocked plugins are not even imported
    assert "prolate-spheroid" in r.stdout and "ek80" not in r.stdout


def test_folder_search_keeps_only_files_a_source_reads(tmp_path):
    from ts_toolkit.batch import collect_inputs

    (tmp_path / "table.csv").write_text("target,range_m,38\nx,5,-50\n")
    (tmp_path / "notes.csv").write_text("ping_time,channel\n")  # an output, not a TS table
    unreadable: list[Path] = []
    assert collect_inputs([tmp_path], unreadable) == [(tmp_path / "table.csv").resolve()]
    assert unreadable == [(tmp_path / "notes.csv").resolve()]
    # named explicitly, a file is kept (and then fails with its reason)
    assert collect_inputs([tmp_path / "notes.csv"]) == [(tmp_path / "notes.csv").resolve()]
