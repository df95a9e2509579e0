"""The notebook API: one call each for the toolkit's three jobs, returning xarray Datasets.

::

    import ts_toolkit as tt

    spectra = tt.simulate(n=200, seed=1)               # Table I space, 200 targets, in memory
    targets = tt.extract("survey.raw", min_ts=-70)     # single targets and their TS(f)
    result = tt.predict(targets)                       # + pred_kind, pred_a, ... (bundled model)
    result = tt.predict("survey.raw", model="my.tsm")  # extract and predict in one call

These are what the ``simulate``, ``extract`` and ``predict`` commands do, without files:
the same checks (a bad value raises a :class:`~ts_toolkit.errors.TsToolkitError` whose
message is the command's one-line error), the same sources, models and thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xarray as xr

from .errors import TsToolkitError

PathLike = str | Path


def extract(source: PathLike | Any, **options: Any) -> xr.Dataset:
    """Detected single targets of the data file ``source`` and their TS(f) (dB re 1 m² on a
    frequency grid in Hz), read by the first installed source that can open it.

    ``source`` is a file path, a directory that a source reads as one input (e.g. an
    echopype ``.zarr`` store), or an in-memory object that a source reads (e.g. an echopype
    ``EchoData``; ``ts-toolkit plugins`` lists the sources, docs/ek80.md what ek80 reads).

    ``options`` are the source's reading options (``ts-toolkit plugins --options ek80``
    lists them), e.g. ``min_ts=-70`` (dB), ``min_range=5`` (m), ``channels=["ES38"]``.
    What a damaged file lost is in ``attrs["input_warnings"]``, as the CLI prints it.
    """
    from .plugins import source_for, source_for_object

    if not isinstance(source, str | Path):
        return source_for_object(source).open_object(source, **options)
    path = Path(source)
    if not path.exists():
        raise TsToolkitError(f"{path}: no such file")
    return source_for(path).open(path, **options)


def _model(model: Any) -> tuple[Any, Path | None]:
    """A loaded model from a model object, a ``.tsm`` path, or None (the bundled model),
    and the file it came from (None for a model object)."""
    from .modelfile import load_model, resolve_model

    if model is None or isinstance(model, str | Path):
        path = resolve_model(model)
        return load_model(path), path
    if not hasattr(model, "predict") or not hasattr(model, "frequency"):
        raise TsToolkitError(f"model={type(model).__name__}: not a model or a model file path")
    return model, None


def predict(
    spectra_or_source: xr.Dataset | PathLike | Any,
    model: Any = None,
    *,
    allow_partial: bool = False,
    **options: Any,
) -> xr.Dataset:
    """The spectra on the model's frequency grid with its predictions added as ``pred_kind``,
    ``pred_probability``, ``pred_a``, ``pred_b`` (m), ``pred_alpha``, ``pred_Req`` (m) and
    ``pred_theta`` (degrees), one per target.

    ``spectra_or_source``: a spectra Dataset (from :func:`extract`, :func:`simulate` or
    :func:`ts_toolkit.read_spectra`) or anything :func:`extract` reads (a data file, a
    store, an echopype ``EchoData``), which is extracted first with
    ``options`` and, without ``min_ts``, the model's own detection threshold (as
    ``ts-toolkit predict`` does). ``model``: a loaded model, a ``.tsm`` path, or None for the
    bundled model. ``allow_partial`` accepts spectra that cover the model's grid only in
    part (``--band-subset``).
    """
    from .apply import model_detection_threshold, predict_spectra

    loaded, model_file = _model(model)
    if isinstance(spectra_or_source, xr.Dataset):
        if options:
            raise TsToolkitError(
                f"reading options ({', '.join(sorted(options))}) apply to a data file, "
                "not to spectra"
            )
        spectra = spectra_or_source
    else:
        if "min_ts" not in options:
            found = model_detection_threshold(loaded)
            if found is not None:
                options["min_ts"] = found[0]
        spectra = extract(spectra_or_source, **options)
    return predict_spectra(loaded, spectra, allow_partial=allow_partial, model_file=model_file)


def simulate(
    space: Any = None,
    *,
    n: int | None = None,
    seed: int = 1,
    simulator: str = "prolate-spheroid",
) -> xr.Dataset:
    """Simulated TS(f) spectra in memory, in this process (for a few thousand targets; the
    ``simulate`` command runs large sets in parallel and resumably).

    ``space``: a :class:`~ts_toolkit.parameters.ParameterSpace`, the path of a space TOML
    file, or None for the paper's Table I space; ``n`` scales its counts to ``n`` targets
    in all; ``seed`` draws the targets (the same draw as ``ts-toolkit simulate --seed``).
    The Dataset holds ``TS`` (target, frequency) and each target's parameters, as the
    command writes them.
    """
    from .checks import check_count, check_seed
    from .parameters import ParameterSpace, load_space, sample_parameters, table1_space
    from .plugins import get_simulator
    from .simulation import PER_TARGET, check_parameters, compute_chunk, simulation_attrs
    from .spectra import make_spectra

    check_seed(seed)
    check_count(n, "n")
    if space is None:
        space = table1_space()
    elif not isinstance(space, ParameterSpace):
        space = load_space(space)
    if n is not None:
        space = space.with_total(n)
    sim = get_simulator(simulator)
    params = sample_parameters(space, seed)
    check_parameters(sim, params)
    chunk = compute_chunk(sim.name, space.frequency, params, 0)
    attrs = simulation_attrs(sim, seed, space, sorted(set(chunk.warnings)))
    per_target = {k: params[k] for k in PER_TARGET if k in params}
    return make_spectra(space.frequency, chunk.ts, attrs=attrs, **per_target)
