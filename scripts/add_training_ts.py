"""Record the TS range of a model's training spectra in its model file (``training_ts_db``).

Models trained since 2026-12-07 record it themselves (``SpectraLearner.fit``); older files
lack it, and ``predict``/``batch`` then fall back to a -50 dB detection threshold. This
script adds it from the data the model was trained on: the model's frequency grid is
selected from SPECTRA, the split stored in the model must match SPECTRA (its data
fingerprint and size), and its training subset gives the values. The weights are copied
unchanged (``ts_toolkit.modelfile.update_metadata``).

    python scripts/add_training_ts.py MODEL.tsm SPECTRA.nc

The bundled model (`src/ts_toolkit/data/default.tsm`) got its record with

    python scripts/add_training_ts.py src/ts_toolkit/data/default.tsm \
        ../shared/data/table1.nc --no-fingerprint-check

because it holds the float64 label fingerprint of the first Table I file, and the shared
`table1.nc` is its regeneration, whose labels differ in the last bit of some float64 values
(docs/dataset-table1.md: same targets, same float32 fingerprint, TS equal to within
7.6e-6 dB); the size and the frequency grid are still checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def training_ts_of(
    model_path: Path, spectra_path: Path, check_fingerprint: bool = True
) -> dict[str, float]:
    """The ``training_ts_db`` summary of the model's training spectra (see the docstring)."""
    from ts_toolkit.learn.base import training_ts_range
    from ts_toolkit.learn.data import fingerprint_matches, ts_array
    from ts_toolkit.learn.split import Split
    from ts_toolkit.modelfile import read_metadata
    from ts_toolkit.spectra import read_spectra

    meta = read_metadata(model_path)
    if not meta.get("split"):
        sys.exit(f"{model_path}: the model file holds no train/validation/test split")
    split = Split.from_dict(meta["split"])
    grid = np.asarray(meta["frequency_hz"], dtype=float)
    ds = read_spectra(spectra_path)
    f = ds["frequency"].values
    idx = np.searchsorted(f, grid)
    if np.any(idx >= f.size) or not np.allclose(f[np.minimum(idx, f.size - 1)], grid):
        sys.exit(f"{spectra_path}: its frequency grid does not hold the model's grid")
    band = ds.isel(frequency=idx)
    if band.sizes["target"] != split.n_targets:
        sys.exit(
            f"{spectra_path} has {band.sizes['target']} targets; the model's split was drawn "
            f"from {split.n_targets}"
        )
    if check_fingerprint and not fingerprint_matches(split.fingerprint, band):
        sys.exit(f"{spectra_path} is not the data the model's split was drawn from")
    ts = ts_array(band)[split.train]
    return training_ts_range(ts[np.isfinite(ts).any(axis=1)])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model", type=Path, help="model file (.tsm) to update in place")
    ap.add_argument("spectra", type=Path, help="the spectra NetCDF it was trained on")
    ap.add_argument(
        "--no-fingerprint-check",
        action="store_true",
        help="accept SPECTRA whose label fingerprint differs from the split's (see above)",
    )
    args = ap.parse_args()
    from ts_toolkit.modelfile import update_metadata

    summary = training_ts_of(args.model, args.spectra, not args.no_fingerprint_check)
    update_metadata(args.model, {"training_ts_db": summary})
    print(f"{args.model}: training_ts_db = {json.dumps(summary)}")


if __name__ == "__main__":
    main()
