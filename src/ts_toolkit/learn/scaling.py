"""Standardisation with training statistics: per-frequency TS z-scores (NaN-masked) and
z-scored regression targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import TARGET_NAMES


@dataclass
class FeatureScaler:
    """Per-frequency z-score of TS (dB) with training statistics, NaN-aware.

    ``mean``/``std`` (dB) are computed over the finite training values of each frequency;
    a frequency never measured in training gets mean 0 and std 1 (it is always masked).
    ``transform`` returns the z-scores with NaN replaced by 0 (the training mean) and a
    mask that is 1 where TS was measured and 0 where it was NaN.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, ts: np.ndarray) -> FeatureScaler:
        ts = np.asarray(ts, dtype=np.float64)
        finite = np.isfinite(ts)
        count = finite.sum(axis=0)
        filled = np.where(finite, ts, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.zeros(ts.shape[1]), where=count > 0)
        dev = np.where(finite, ts - mean, 0.0)
        var = np.divide((dev * dev).sum(axis=0), count, out=np.ones(ts.shape[1]), where=count > 0)
        std = np.sqrt(var)
        std[(count < 2) | ~(std > 1e-12)] = 1.0
        return cls(mean=mean, std=std)

    def transform(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z-scores, mask), both float32 (target, frequency)."""
        ts = np.asarray(ts, dtype=np.float64)
        mask = np.isfinite(ts)
        z = np.where(mask, (ts - self.mean) / self.std, 0.0)
        return z.astype(np.float32), mask.astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean_db": self.mean.tolist(), "std_db": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureScaler:
        return cls(
            mean=np.asarray(d["mean_db"], dtype=np.float64),
            std=np.asarray(d["std_db"], dtype=np.float64),
        )


@dataclass
class TargetScaler:
    """Z-score of the regression targets (theta deg, a m, b m) with training statistics.

    ``inverse`` clips to the training range [minimum, maximum] of each target: a learner
    is not trusted to extrapolate beyond what it was shown.
    """

    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    names: tuple[str, ...] = TARGET_NAMES

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScaler:
        y = np.asarray(y, dtype=np.float64)
        std = y.std(axis=0)
        std[~(std > 0)] = 1.0
        return cls(mean=y.mean(axis=0), std=std, minimum=y.min(axis=0), maximum=y.max(axis=0))

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray, clip: bool = True) -> np.ndarray:
        y = np.asarray(z, dtype=np.float64) * self.std + self.mean
        return np.clip(y, self.minimum, self.maximum) if clip else y

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "minimum": self.minimum.tolist(),
            "maximum": self.maximum.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetScaler:
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "minimum", "maximum")}
        return cls(names=tuple(d["names"]), **arr)
