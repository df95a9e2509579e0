"""The seeded train / validation / test split (80/10/10, stratified by kind)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TsToolkitError
from .data import dataset_fingerprint, kind_index

if TYPE_CHECKING:
    import xarray as xr

#: Train / validation / test fractions of the seeded split.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Split:
    """Positional indices (along ``target``) of the train / validation / test subsets."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int
    n_targets: int
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.tolist(),
            "validation": self.validation.tolist(),
            "test": self.test.tolist(),
            "seed": self.seed,
            "n_targets": self.n_targets,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Split:
        return cls(
            *(np.asarray(d[k], dtype=np.int64) for k in ("train", "validation", "test")),
            seed=int(d["seed"]),
            n_targets=int(d["n_targets"]),
            fingerprint=str(d.get("fingerprint", "")),
        )


def make_split(
    n_targets: int,
    seed: int,
    strata: np.ndarray | None = None,
    fractions: Sequence[float] = SPLIT_FRACTIONS,
    fingerprint: str = "",
) -> Split:
    """A seeded train/validation/test split of ``n_targets`` items (sorted index arrays).

    With ``strata`` (one label per item, e.g. kind) each stratum is split in the same
    proportions. Each subset gets at least one item per stratum when the stratum has ≥ 3.
    """
    if n_targets < 3:
        raise TsToolkitError(
            f"need at least 3 targets to split into train/validation/test, got {n_targets}"
        )
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f <= 0).any():
        raise TsToolkitError(f"split fractions must be three positive numbers, got {fractions}")
    f = f / f.sum()
    rng = np.random.default_rng(seed)
    labels = np.zeros(n_targets, dtype=np.int64) if strata is None else np.asarray(strata)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n = idx.size
        n_val = int(round(n * f[1]))
        n_test = int(round(n * f[2]))
        if n >= 3:
            n_val, n_test = max(n_val, 1), max(n_test, 1)
        n_train = n - n_val - n_test
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return Split(
        train, val, test, seed=int(seed), n_targets=int(n_targets), fingerprint=fingerprint
    )


def split_dataset(ds: xr.Dataset, seed: int) -> Split:
    """The seeded 80/10/10 split of a labelled spectra Dataset, stratified by kind."""
    return make_split(
        ds.sizes["target"], seed, strata=kind_index(ds), fingerprint=dataset_fingerprint(ds)
    )
