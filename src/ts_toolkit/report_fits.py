"""The *Inversion fits* of a batch report: for a batch classified by a model that can draw
its own fitted spectrum (the ``inversion`` model's ``model_spectrum``), a few targets'
measured TS(f), the inversion's fit and the spectrum of the bundled learned model's answer
(:mod:`ts_toolkit.fitplots`), so that a reader of the report sees whom to believe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import TsToolkitError

if TYPE_CHECKING:
    import xarray as xr

#: Targets drawn in the report, spread evenly over the batch's targets.
FITS_IN_REPORT = 6


def report_fit_figures(ds: xr.Dataset, model_path: str | Path | None) -> tuple[list[Any], str]:
    """Figures of up to :data:`FITS_IN_REPORT` targets of ``ds`` (the batch's combined
    predictions) and a note on what they show; no figures (and an empty note) when the
    batch's model does not fit spectra. The companion is the bundled ``default`` model
    (its answer on the same spectra); without it the figures show the fit alone."""
    if model_path is None or "pred_misfit" not in ds or int(ds.sizes["target"]) == 0:
        return [], ""
    from .apply import predict_spectra
    from .fitplots import target_fit_figure
    from .modelfile import resolve_model
    from .workercache import cached_model

    inversion = cached_model(model_path)  # the batch loaded it in this process already
    if not hasattr(inversion, "model_spectrum"):
        return [], ""
    n = int(ds.sizes["target"])
    index = np.linspace(0, n - 1, min(n, FITS_IN_REPORT)).round().astype(int)
    chosen = ds.isel(target=np.unique(index))
    spectra = chosen.drop_vars([v for v in chosen.data_vars if str(v).startswith("pred_")])
    note = (
        f"{chosen.sizes['target']} of {n} targets, spread over the batch: the measured TS(f) "
        "on the model grid (dots; measured bands shaded), the inversion's fitted spectrum "
        "(blue) and the exact spectrum of the bundled learned model's answer (dashed)."
    )
    try:
        learned = predict_spectra(cached_model(resolve_model("default")), spectra, True)
    except (TsToolkitError, ImportError) as exc:
        learned = None
        note += f" (No learned model to compare with: {exc}.)"
    figures = []
    for i in range(int(chosen.sizes["target"])):
        fig = target_fit_figure(spectra, i, inversion, chosen, learned, "default model")
        if fig is not None:
            figures.append(fig)
    return figures, note
