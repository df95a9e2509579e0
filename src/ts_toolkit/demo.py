"""The end-to-end demo: a synthetic survey with known targets -> predict -> truth.

1. Draw targets (gas- and liquid-filled spheroids), simulate their TS(f) and let an
   installed Source that writes synthetic surveys write a data file of them with noise
   (the ``ek80`` source: an EK80 FM survey, 45-260 kHz).
2. Open the file with the Source that can read it: single-target detection and TS(f);
   classify the targets with a trained model (the bundled one by default).
3. Match detections to the ground truth and report kind, a, b, alpha and theta errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .errors import TsToolkitError
from .parameters import Distribution, KindSpace, ParameterSpace, table1_space

if TYPE_CHECKING:
    from .interfaces import Source

DEMO_MIN_TS = -90.0  # dB: low enough for the weakly scattering liquid-filled targets


def demo_space() -> ParameterSpace:
    """Table I, with the liquid-filled targets limited to those an echosounder detects at
    5-25 m over its noise floor (Req 10-20 mm, theta 45-90 deg)."""
    space = table1_space()
    kinds = []
    for k in space.kinds:
        params = dict(k.parameters)
        if k.kind == "liquid":
            params["Req"] = Distribution(10e-3, 20e-3)
            params["theta"] = Distribution(45.0, 90.0)
        kinds.append(KindSpace(k.kind, k.count, params))
    return ParameterSpace(space.frequency, tuple(kinds), space.rho_w, space.c_w, name="demo")


@dataclass
class DemoResult:
    """The demo's files and numbers: the data file written (``raw``), the truth, the
    predictions, the match of detections to truth and one comparison row per target."""

    raw: Path
    truth: xr.Dataset
    predictions: xr.Dataset
    match: xr.Dataset
    table: list[dict[str, Any]]
    description: str = ""

    @property
    def n_detected(self) -> int:
        return int(self.match["detected"].sum())

    @property
    def kind_accuracy(self) -> float:
        rows = [r for r in self.table if r["detected"]]
        return float(np.mean([r["kind_true"] == r["kind_pred"] for r in rows])) if rows else 0.0


def comparison_rows(truth: xr.Dataset, pred: xr.Dataset, match: xr.Dataset) -> list[dict[str, Any]]:
    """One row per true target: true and predicted kind, a, b, alpha, theta."""
    rows = []
    for i in range(truth.sizes["target"]):
        j = int(match["found_index"].values[i])
        row: dict[str, Any] = {
            "target": i,
            "range_m": float(truth["range"].values[i]),
            "detected": j >= 0,
            "kind_true": str(truth["kind"].values[i]),
        }
        for name in ("a", "b", "alpha", "theta"):
            row[f"{name}_true"] = float(truth[name].values[i])
        if j >= 0:
            row["kind_pred"] = str(pred["pred_kind"].values[j])
            row["probability"] = float(pred["pred_probability"].values[j])
            for name in ("a", "b", "alpha", "theta"):
                row[f"{name}_pred"] = float(pred[f"pred_{name}"].values[j])
        rows.append(row)
    return rows


def survey_writer(name: str | None = None) -> Source:
    """The installed Source named ``name``, or the first that writes synthetic surveys."""
    from .plugins import get_source, sources

    if name is not None:
        source = get_source(name)
        if not getattr(source, "writes_synthetic_surveys", False):
            raise TsToolkitError(f"source {name!r} cannot write synthetic surveys")
        return source
    for source in sources():
        if getattr(source, "writes_synthetic_surveys", False):
            return source
    raise TsToolkitError("no installed source can write synthetic surveys for the demo")


def run_demo(
    out_dir: Path,
    n_targets: int = 8,
    seed: int = 1,
    model: Path | None = None,
    simulator: str = "prolate-spheroid",
    min_ts: float = DEMO_MIN_TS,
    noise_db: float = -150.0,
    progress: Any = None,
    source: str | None = None,
) -> DemoResult:
    """Run the three steps; files go to ``out_dir``. ``source`` names the Source that
    writes the survey (default: the first installed one that can)."""
    from .apply import predict_spectra
    from .matching import match_targets
    from .modelfile import bundled_model_path, load_model
    from .plugins import source_for

    model_path = Path(model) if model is not None else bundled_model_path()
    if model_path is None or not model_path.is_file():
        raise TsToolkitError(f"model file not found: {model_path or 'no bundled model'}")
    loaded = load_model(model_path)
    writer = survey_writer(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    survey = writer.write_synthetic_survey(
        out_dir / f"demo-survey{writer.suffixes[0] if writer.suffixes else ''}",
        out_dir / "demo-truth.nc",
        n_targets,
        seed,
        simulator=simulator,
        space=demo_space(),
        noise_db=noise_db,
        progress=progress,
    )
    spectra = source_for(survey.path).open(survey.path, min_ts=min_ts)
    if spectra.sizes["target"] == 0:
        raise TsToolkitError(f"no single targets detected in {survey.path}")
    pred = predict_spectra(loaded, spectra)
    match = match_targets(pred, survey.truth)
    rows = comparison_rows(survey.truth, pred, match)
    return DemoResult(survey.path, survey.truth, pred, match, rows, survey.description)
