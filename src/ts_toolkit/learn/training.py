"""Training: split a labelled Dataset, check the plugin options, fit on the training part."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import TsToolkitError
from .data import ts_array
from .split import split_dataset

if TYPE_CHECKING:
    import xarray as xr

    from .base import SpectraLearner


def train_model(ds: xr.Dataset, model: str, seed: int = 0, **options: Any) -> SpectraLearner:
    """Split ``ds`` (seeded, 80/10/10 by kind), fit plugin ``model`` on the training part
    with early stopping/selection on the validation part, and record the split."""
    from ..plugins import get_classifier_class

    ts_array(ds, "training data")
    cls = get_classifier_class(model)
    split = split_dataset(ds, seed)
    opts = dict(options)
    if "seed" in accepted_options(cls):
        opts.setdefault("seed", seed)
    check_options(cls, opts)
    try:
        learner = cls(**opts)
    except (TypeError, ValueError) as exc:  # InvalidParameterError from the option check
        raise TsToolkitError(f"invalid option value for model {model!r}: {exc}") from exc
    learner.fit(ds.isel(target=split.train), ds.isel(target=split.validation))
    learner.split = split
    return learner


def accepted_options(cls: type[SpectraLearner]) -> list[str]:
    """Names of the options a learner class declares (its ``Options`` dataclass)."""
    from dataclasses import fields

    return [f.name for f in fields(cls.Options)]


def check_options(cls: type[SpectraLearner], options: Mapping[str, Any]) -> None:
    """Raise a one-line error naming an option the plugin class does not accept."""
    accepted = accepted_options(cls)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TsToolkitError(
            f"model {getattr(cls, 'name', cls)!r} does not take option(s) "
            f"{', '.join(unknown)}; it takes: {', '.join(accepted)}"
        )
