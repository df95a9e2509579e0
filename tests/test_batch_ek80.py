"""`batch` on real EK80 files through the ek80 source and the bundled model.

A folder of synthetic FM surveys (our writer, known targets), a truncated copy of one and,
when ../shared/ek80 is present, a CW-only file: the good files' targets are all in the
output, the bad files are listed with their reasons, and the batch says it completed with
failures.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SHARED

from ts_toolkit.batch import run_batch
from ts_toolkit.modelfile import bundled_model_path as default_model_path
from ts_toolkit.spectra import read_spectra

MODEL = default_model_path()
CW_FILE = SHARED / "ek80" / "cw-power-angle-small.raw"
pytestmark = pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")


@pytest.fixture(scope="module")
def cruise(tmp_path_factory) -> Path:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw, write_truth

    folder = tmp_path_factory.mktemp("cruise")
    for seed in (1, 2):
        survey = make_survey(3, seed, simulator="stanton-sphere", space=demo_space())
        raw = folder / f"survey-{seed}.raw"
        write_raw(survey, raw)
        write_truth(
            survey, raw.with_suffix(".truth.nc"), raw.with_suffix(".truth.csv"), raw_file=raw
        )
    data = (folder / "survey-1.raw").read_bytes()
    (folder / "bad").mkdir()
    (folder / "bad" / "truncated.raw").write_bytes(data[: len(data) // 3])
    if CW_FILE.exists():
        shutil.copy(CW_FILE, folder / "bad" / "cw-only.raw")
    return folder


def test_batch_on_ek80_files(cruise: Path) -> None:
    from ts_toolkit.matching import match_targets

    out = cruise / "out" / "cruise.nc"
    report = run_batch(
        [cruise], MODEL, out, scheduler="synchronous", options={"source": {"min_ts": -90.0}}
    )
    reasons = {Path(o.path).name: o.reason for o in report.failed}
    expected = {"truncated.raw"} | ({"cw-only.raw"} if CW_FILE.exists() else set())
    assert set(reasons) == expected
    assert "corrupt or truncated" in reasons["truncated.raw"]
    if CW_FILE.exists():
        assert "no FM (broadband) channels" in reasons["cw-only.raw"]

    ds = read_spectra(out)
    names = np.array([Path(f).name for f in ds["file"].values.astype(str)])
    assert set(names) == {"survey-1.raw", "survey-2.raw"}
    for name in ("survey-1.raw", "survey-2.raw"):
        truth = xr.load_dataset(cruise / name.replace(".raw", ".truth.nc"))
        match = match_targets(ds.isel(target=np.flatnonzero(names == name)), truth)
        assert bool(match["detected"].all()), name  # every placed target is in the output
    assert {"pred_kind", "pred_a", "pred_b", "pred_theta"} <= set(ds.data_vars)
    files_csv = out.with_name("cruise-files.csv").read_text()
    assert "truncated.raw" in files_csv and "corrupt or truncated" in files_csv


def test_cli_says_completed_with_failures(cruise: Path, monkeypatch, capsys) -> None:
    from ts_toolkit.cli import main

    out = cruise / "cli" / "c.nc"
    argv = ["ts-toolkit", "batch", str(cruise / "bad"), str(cruise / "survey-2.raw")]
    argv += ["--model", str(MODEL), "--out", str(out), "--scheduler", "synchronous"]
    monkeypatch.setattr(sys, "argv", [*argv, "--min-ts", "-90"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    n_bad = 2 if CW_FILE.exists() else 1
    err = capsys.readouterr().err
    assert f"completed with failures: {n_bad} of {n_bad + 1} files failed" in err
    assert read_spectra(out).sizes["target"] >= 3


def test_cli_batch_uses_the_bundled_model_without_model(cruise: Path, monkeypatch, capsys):
    """As `predict` does: no --model means the bundled model, said on the console."""
    from ts_toolkit.cli import main

    out = cruise / "cli-default" / "c.nc"
    argv = ["ts-toolkit", "batch", str(cruise / "survey-1.raw"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", [*argv, "--scheduler", "synchronous", "--min-ts", "-90"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0, capsys.readouterr().err
    assert f"model: the bundled model ({MODEL.name})" in capsys.readouterr().out
    ds = read_spectra(out)
    assert ds.sizes["target"] == 3 and "pred_kind" in ds
