"""The notebook API (``ts_toolkit.simulate/extract/predict``) gives what the commands give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import ts_toolkit as tt
from ts_toolkit.errors import TsToolkitError
from ts_toolkit.modelfile import bundled_model_path
from ts_toolkit.parameters import table1_space
from ts_toolkit.simulation import simulate as simulate_to_file
from ts_toolkit.spectra import read_spectra

MODEL = bundled_model_path()


def test_simulate_in_memory_is_the_commands_draw_and_spectra(tmp_path: Path) -> None:
    """Same space, seed and simulator: the same targets and bit-identical TS as the file
    the ``simulate`` command writes."""
    in_memory = tt.simulate(n=6, seed=3, simulator="stanton-sphere")
    out = tmp_path / "six.nc"
    simulate_to_file(
        table1_space().with_total(6), out, seed=3, simulator="stanton-sphere",
        scheduler="synchronous", progress=False,
    )  # fmt: skip
    on_disk = read_spectra(out)
    np.testing.assert_array_equal(in_memory["TS"].values, on_disk["TS"].values)
    for name in ("kind", "a", "b", "theta", "Req"):
        np.testing.assert_array_equal(in_memory[name].values, on_disk[name].values)
    assert in_memory.attrs["seed"] == 3 and in_memory.attrs["simulator"] == "stanton-sphere"


def test_simulate_rejects_bad_values_with_the_commands_message() -> None:
    with pytest.raises(TsToolkitError, match="seed"):
        tt.simulate(n=2, seed=-1)
    with pytest.raises(TsToolkitError, match="n must be a whole number"):
        tt.simulate(n=2.5)  # type: ignore[arg-type]
    with pytest.raises(TsToolkitError, match="no-such"):
        tt.simulate(n=2, simulator="no-such")


def test_extract_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TsToolkitError, match="no such file"):
        tt.extract(tmp_path / "absent.raw")


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    from ts_toolkit.demo import demo_space
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    raw = tmp_path_factory.mktemp("api") / "survey.raw"
    write_raw(make_survey(3, 5, simulator="stanton-sphere", space=demo_space()), raw)
    return raw


@pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")
def test_extract_and_predict_match_the_commands(survey: Path, tmp_path: Path) -> None:
    targets = tt.extract(survey, min_ts=-90.0)
    assert targets.sizes["target"] == 3
    from_spectra = tt.predict(targets)
    from_file = tt.predict(survey, min_ts=-90.0)
    for name in ("pred_kind", "pred_a", "pred_theta", "TS"):
        np.testing.assert_array_equal(from_spectra[name].values, from_file[name].values)

    out = tmp_path / "cli.nc"
    cmd = [sys.executable, "-m", "ts_toolkit", "predict", str(survey), "--min-ts", "-90"]
    done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(out) as cli:
        np.testing.assert_array_equal(cli["pred_kind"].values, from_file["pred_kind"].values)
        np.testing.assert_allclose(cli["pred_a"].values, from_file["pred_a"].values, rtol=1e-6)


@pytest.mark.skipif(MODEL is None, reason="no bundled model in this checkout")
def test_predict_refuses_reading_options_with_spectra(survey: Path) -> None:
    targets = tt.extract(survey, min_ts=-90.0)
    with pytest.raises(TsToolkitError, match="apply to a data file"):
        tt.predict(targets, min_ts=-60)
    with pytest.raises(TsToolkitError, match="not a model"):
        tt.predict(targets, model=42)
