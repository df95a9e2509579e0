"""How far to trust a prediction: coverage, calibrated intervals and probabilities, and an
out-of-distribution score (docs/trust.md).

A model calibrated with :func:`calibrate` (``ts-toolkit calibrate-model``) carries a
:class:`Trust` record: the band sets it was calibrated on (their masks on the model grid)
and, per band set,

- a **temperature** for the class probabilities, fitted on the validation split (negative
  log-likelihood; never below 1, so calibration never makes the network more confident);
- **split-conformal half-widths** of the interval at ``level`` (90 %) for theta (deg),
  a, b, Req (m) and alpha, per predicted kind: the ceil((n+1)·level)-th smallest absolute
  validation residual, so that on exchangeable data the interval holds the truth with
  probability ≥ ``level``;
- an **out-of-distribution threshold**: the ``ood_quantile`` (99 %) of the validation
  spectra's score (with ``noise_db`` of Gaussian TS noise, as measured spectra have).

The OOD score of a spectrum is the RMS difference (dB), over its measured frequencies, to
the nearest of a stored random subset of training spectra (brute force, vectorised).
A spectrum is matched to the calibration band set whose mask is most like its measured
frequencies (:func:`ts_toolkit.learn.bands.nearest_band_set`). Its **coverage** is the
fraction of the model's frequency grid that was measured; ``min_coverage`` is the smallest
coverage from which on every calibration band set has validation R² of theta, a and b all
≥ ``r2_floor``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputFileError, ModelMismatchError, TsToolkitError
from .bands import band_masks, format_band_set, nearest_band_set, parse_band_sets
from .data import KINDS, fingerprint_matches, truth_of, ts_array

if TYPE_CHECKING:
    import xarray as xr

#: Blob of the model file that holds the OOD reference spectra (int16, centi-dB).
REFERENCE_BLOB = "ood_reference.npy"
#: Blobs of the embedding check: class means (S, K, d) and precision matrices (S, d, d).
EMBEDDING_BLOBS = ("ood_embedding_mean.npy", "ood_embedding_precision.npy")
#: Every blob a calibration adds to a model file.
TRUST_BLOBS = (REFERENCE_BLOB, *EMBEDDING_BLOBS)
#: Quantities that get an interval, with their units.
INTERVAL_NAMES: dict[str, str] = {"theta": "degree", "a": "m", "b": "m", "Req": "m", "alpha": "1"}
#: Temperatures are fitted in [1, MAX_TEMPERATURE].
MAX_TEMPERATURE = 100.0
_LOG_FLOOR = 1e-300


@dataclass
class Trust:
    """A model's calibration (see the module docstring). Arrays are per band set (S)."""

    level: float
    band_sets: tuple[str, ...]
    masks: np.ndarray
    min_coverage: float
    temperature: np.ndarray
    half_widths: dict[str, np.ndarray]
    ood_threshold: np.ndarray
    reference: np.ndarray = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    embedding_mean: np.ndarray | None = field(default=None, repr=False)
    embedding_precision: np.ndarray | None = field(default=None, repr=False)
    embedding_threshold: np.ndarray | None = None
    roughness_threshold: np.ndarray | None = None

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "band_sets_khz": list(self.band_sets),
            "min_coverage": self.min_coverage,
            "temperature": self.temperature.tolist(),
            "half_widths": {k: v.tolist() for k, v in self.half_widths.items()},
            "half_width_kinds": list(KINDS),
            "ood_threshold_db": self.ood_threshold.tolist(),
            "ood_reference": {"blob": REFERENCE_BLOB, "n_spectra": int(self.reference.shape[0])},
            "ood_roughness_threshold_db": (
                None if self.roughness_threshold is None else self.roughness_threshold.tolist()
            ),
            "ood_embedding_threshold": (
                None if self.embedding_threshold is None else self.embedding_threshold.tolist()
            ),
            "info": self.info,
        }

    def blobs(self) -> dict[str, bytes]:
        """The reference spectra as an ``.npy`` blob (int16 centi-dB; no pickle)."""
        buf = io.BytesIO()
        np.save(buf, np.round(self.reference * 100.0).astype(np.int16), allow_pickle=False)
        out = {REFERENCE_BLOB: buf.getvalue()}
        if self.embedding_mean is not None and self.embedding_precision is not None:
            for name, arr in zip(
                EMBEDDING_BLOBS, (self.embedding_mean, self.embedding_precision), strict=True
            ):
                b = io.BytesIO()
                np.save(b, arr.astype(np.float32), allow_pickle=False)
                out[name] = b.getvalue()
        return out

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], frequency: np.ndarray, files: Mapping[str, bytes]
    ) -> Trust:
        try:
            sets = tuple(str(s) for s in d["band_sets_khz"])
            masks = band_masks(frequency, [parse_band_sets(s)[0] for s in sets])
            ref = np.load(io.BytesIO(files[REFERENCE_BLOB]), allow_pickle=False)
            trust = cls(
                level=float(d["level"]),
                band_sets=sets,
                masks=masks,
                min_coverage=float(d["min_coverage"]),
                temperature=np.asarray(d["temperature"], dtype=np.float64),
                half_widths={
                    k: np.asarray(v, dtype=np.float64) for k, v in d["half_widths"].items()
                },
                ood_threshold=np.asarray(d["ood_threshold_db"], dtype=np.float64),
                reference=ref.astype(np.float64) / 100.0,
                info=dict(d.get("info") or {}),
            )
            if d.get("ood_roughness_threshold_db") is not None:
                trust.roughness_threshold = np.asarray(d["ood_roughness_threshold_db"], float)
            if d.get("ood_embedding_threshold") is not None:
                trust.embedding_threshold = np.asarray(d["ood_embedding_threshold"], np.float64)
                trust.embedding_mean, trust.embedding_precision = (
                    np.load(io.BytesIO(files[name]), allow_pickle=False).astype(np.float64)
                    for name in EMBEDDING_BLOBS
                )
        except (KeyError, TypeError, ValueError, TsToolkitError) as exc:
            raise InputFileError(f"its calibration ('trust') is unreadable: {exc}") from exc
        n = len(sets)
        shapes_ok = (
            trust.temperature.shape == (n,)
            and trust.ood_threshold.shape == (n,)
            and set(trust.half_widths) == set(INTERVAL_NAMES)
            and all(v.shape == (n, len(KINDS)) for v in trust.half_widths.values())
            and trust.reference.ndim == 2
            and trust.reference.shape[1] == np.asarray(frequency).size
        )
        if not shapes_ok:
            raise InputFileError("its calibration ('trust') does not fit its frequency grid")
        return trust

    # -- use ------------------------------------------------------------------------------
    def assess(
        self,
        ts: np.ndarray,
        proba: np.ndarray,
        y: np.ndarray,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
        embedding: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Per target: ``coverage``, ``low_coverage``, ``band_set`` (index), calibrated
        ``probability`` (n, 2), ``<name>_low``/``<name>_high`` interval bounds, ``ood_score``
        (dB) and ``ood`` (bool), from TS on the model grid (NaN = not measured), the raw
        class probabilities and (theta deg, a m, b m) of :meth:`SpectraLearner.predict_arrays`.
        ``bounds``: (minimum, maximum) of (theta, a, b) in training, to clip their intervals to.
        ``embedding``: the learner's representation of each spectrum; with it (and an
        embedding calibration) also ``ood_embedding_score``, and ``ood`` flags either score.
        """
        ts = np.asarray(ts, dtype=np.float64)
        measured = np.isfinite(ts)
        cover = measured.mean(axis=1)
        s = nearest_band_set(measured, self.masks)
        ok = np.isfinite(proba).all(axis=1)
        cal = calibrated_proba(proba, self.temperature[s])
        kind = np.argmax(np.where(ok[:, None], cal, 0.0), axis=1)
        theta, a, b = y[:, 0], y[:, 1], y[:, 2]
        values = {"theta": theta, "a": a, "b": b, "Req": np.cbrt(a * b * b), "alpha": a / b}
        out: dict[str, np.ndarray] = {
            "coverage": cover,
            "low_coverage": cover < self.min_coverage,
            "band_set": s,
            "probability": cal,
        }
        for name, v in values.items():
            w = self.half_widths[name][s, kind]
            low = v - w
            high = v + w
            if name != "theta":
                low = np.maximum(low, 0.0)  # sizes and ratios are positive
            if bounds is not None and name in ("theta", "a", "b"):
                j = ("theta", "a", "b").index(name)  # the training range, as the values
                low = np.clip(low, bounds[0][j], bounds[1][j])
                high = np.clip(high, bounds[0][j], bounds[1][j])
            out[f"{name}_low"] = np.where(ok, low, np.nan)
            out[f"{name}_high"] = np.where(ok, high, np.nan)
        score = ood_scores(ts, self.reference)
        out["ood_score"] = score
        out["ood"] = ~(score <= self.ood_threshold[s])  # NaN score (nothing measured): flagged
        if self.roughness_threshold is not None:
            rough = roughness(ts)
            out["roughness"] = rough
            out["ood"] |= rough > self.roughness_threshold[s]
        if embedding is not None and self.embedding_threshold is not None:
            e = self.embedding_scores(embedding, s)
            out["ood_embedding_score"] = e
            out["ood"] |= ~(e <= self.embedding_threshold[s])
        return out

    def embedding_scores(self, embedding: np.ndarray, band_set: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``embedding`` to the nearest class mean of
        its band set (shared, shrunk covariance of that set's training embeddings)."""
        assert self.embedding_mean is not None and self.embedding_precision is not None
        out = np.full(len(embedding), np.nan)
        for k in np.unique(band_set):
            rows = band_set == k
            out[rows] = mahalanobis_min(
                embedding[rows], self.embedding_mean[k], self.embedding_precision[k]
            )
        return out


def calibrated_proba(proba: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Two-class probabilities with their log-odds divided by ``temperature`` (per row)."""
    p = np.asarray(proba, dtype=np.float64)
    z = np.log(np.maximum(p[:, 1], _LOG_FLOOR)) - np.log(np.maximum(p[:, 0], _LOG_FLOOR))
    p1 = 1.0 / (1.0 + np.exp(-np.clip(z / np.asarray(temperature, dtype=np.float64), -700, 700)))
    out = np.stack([1.0 - p1, p1], axis=1)
    return np.where(np.isfinite(p).all(axis=1, keepdims=True), out, np.nan)


def fit_temperature(proba: np.ndarray, kind: np.ndarray) -> float:
    """The temperature in [1, :data:`MAX_TEMPERATURE`] that minimises the negative
    log-likelihood of the true ``kind`` (class index) under :func:`calibrated_proba`."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = calibrated_proba(proba, np.full(len(proba), math.exp(log_t)))
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(p)), kind], _LOG_FLOOR))))

    res = minimize_scalar(nll, bounds=(0.0, math.log(MAX_TEMPERATURE)), method="bounded")
    best = float(res.x) if nll(float(res.x)) < nll(0.0) else 0.0
    return round(math.exp(best), 4)


def conformal_half_width(residual: np.ndarray, level: float) -> float:
    """Split-conformal half-width: the ceil((n+1)·level)-th smallest |residual| (inf when
    there are too few residuals for that level)."""
    r = np.sort(np.abs(np.asarray(residual, dtype=np.float64)))
    k = math.ceil((r.size + 1) * level)
    return float(r[k - 1]) if 0 < k <= r.size else math.inf


def ood_scores(ts: np.ndarray, reference: np.ndarray, chunk: int = 256) -> np.ndarray:
    """RMS difference (dB) over each row's finite TS values to the nearest row of
    ``reference`` (n_ref, n_freq) on the same grid; NaN for a row with no finite value."""
    ts = np.asarray(ts, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    centre = ref.mean(axis=0)  # centring keeps the expanded square accurate
    r = ref - centre
    r2 = (r * r).T
    out = np.full(ts.shape[0], np.nan)
    for start in range(0, ts.shape[0], chunk):
        block = ts[start : start + chunk]
        m = np.isfinite(block)
        x = np.where(m, block - centre, 0.0)
        n = m.sum(axis=1)
        d2 = (x * x).sum(axis=1)[:, None] - 2.0 * (x @ r.T) + m.astype(np.float64) @ r2
        best = np.maximum(d2.min(axis=1), 0.0)
        out[start : start + chunk] = np.where(n > 0, np.sqrt(best / np.maximum(n, 1)), np.nan)
    return out


def mahalanobis_min(emb: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per row: min over classes k of sqrt((e - m_k)ᵀ P (e - m_k)), with ``means`` (K, d)
    and ``precision`` (d, d); NaN for a row of NaN."""
    diff = np.asarray(emb, dtype=np.float64)[:, None, :] - means[None]  # (n, K, d)
    d2 = np.einsum("nkd,de,nke->nk", diff, precision, diff)
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def fit_embedding(emb: np.ndarray, kind: np.ndarray, n_kinds: int) -> tuple[np.ndarray, np.ndarray]:
    """Class means (K, d) and the precision (d, d) of the pooled within-class covariance
    (Ledoit-Wolf shrinkage) of training embeddings ``emb`` with class indices ``kind``."""
    from sklearn.covariance import LedoitWolf

    means = np.stack([emb[kind == k].mean(axis=0) for k in range(n_kinds)])
    centred = emb - means[kind]
    return means, LedoitWolf(assume_centered=True).fit(centred).precision_


def roughness(ts: np.ndarray) -> np.ndarray:
    """Standard deviation (dB) of the steps between neighbouring measured grid points of
    each row (NaN with fewer than two steps): large for a spectrum of independent noise."""
    step = np.diff(np.asarray(ts, dtype=np.float64), axis=1)
    ok = np.isfinite(step)
    n = ok.sum(axis=1)
    s = np.where(ok, step, 0.0)
    mean = s.sum(axis=1) / np.maximum(n, 1)
    var = (np.where(ok, step - mean[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(n - 1, 1)
    return np.where(n >= 2, np.sqrt(var), np.nan)


def _r2(truth: np.ndarray, pred: np.ndarray) -> float:
    ss = float(((truth - truth.mean()) ** 2).sum())
    return 1.0 - float(((truth - pred) ** 2).sum()) / ss if ss > 0 else math.nan


def min_coverage_rule(coverage: np.ndarray, r2_min: np.ndarray, floor: float) -> float:
    """The smallest coverage c such that every band set with coverage ≥ c has
    ``r2_min`` (the least of its R² theta, a, b) ≥ ``floor``; 1.0 if none does."""
    order = np.argsort(coverage)[::-1]
    best = 1.0
    for i in order:
        if not r2_min[i] >= floor:
            break
        best = float(coverage[i])
    return best


def calibrate(
    model: Any,
    ds: xr.Dataset,
    band_sets: str,
    level: float = 0.9,
    noise_db: float = 1.0,
    ood_quantile: float = 0.995,
    n_reference: int = 6000,
    r2_floor: float = 0.5,
    seed: int = 0,
    n_embedding_fit: int = 3000,
) -> Trust:
    """Calibrate a trained ``model`` on the validation split of ``ds`` (the data set it was
    trained on: its saved split and fingerprint must match) for ``band_sets`` (text, kHz;
    see :mod:`ts_toolkit.learn.bands`), and set ``model.trust``. See the module docstring."""
    split = getattr(model, "split", None)
    if split is None or split.validation.size == 0:
        raise ModelMismatchError("the model has no saved validation split to calibrate on")
    if split.n_targets != ds.sizes["target"] or not fingerprint_matches(split.fingerprint, ds):
        raise ModelMismatchError(
            f"the model was trained on another data set ({split.n_targets} targets, "
            f"fingerprint {split.fingerprint}); calibrate it on the data set it was trained on"
        )
    if not 0.0 < level < 1.0 or not 0.5 <= ood_quantile < 1.0:
        raise TsToolkitError("level must lie in (0, 1) and the OOD quantile in [0.5, 1)")
    sets = parse_band_sets(band_sets)
    if not sets:
        raise TsToolkitError("calibration needs at least one band set")
    freq = np.asarray(model.frequency, dtype=np.float64)
    masks = band_masks(freq, sets, "calibration band sets")
    val = ds.isel(target=split.validation)
    ts_val = ts_array(val, "validation data")
    truth = truth_of(val, "validation data")
    rng = np.random.default_rng(seed)
    noisy_val = ts_val + rng.normal(0.0, noise_db, ts_val.shape) if noise_db > 0 else ts_val
    train_idx = np.asarray(split.train)
    pick = np.sort(rng.choice(train_idx, size=min(n_reference, train_idx.size), replace=False))
    reference = ts_array(ds.isel(target=pick), "training data")
    reference = np.where(np.isfinite(reference), reference, np.nanmean(reference, axis=0))
    n_sets, n_kinds = len(sets), len(KINDS)
    temperature = np.ones(n_sets)
    widths = {k: np.full((n_sets, n_kinds), np.inf) for k in INTERVAL_NAMES}
    threshold = np.zeros(n_sets)
    per_set: list[dict[str, Any]] = []
    ref_kind = truth_of(ds.isel(target=pick), "training data")["kind"]
    fit_rows = np.arange(min(n_embedding_fit, pick.size))
    emb_mean: list[np.ndarray] = []
    emb_prec: list[np.ndarray] = []
    emb_thr = np.zeros(n_sets)
    rough_thr = np.zeros(n_sets)
    has_embedding = True
    for s, mask in enumerate(masks):
        proba, y, _ = model.predict_with_embedding(np.where(mask, ts_val, np.nan))
        temperature[s] = fit_temperature(proba, truth["kind"])
        kind = np.argmax(proba, axis=1)
        a, b = y[:, 1], y[:, 2]
        pred = {"theta": y[:, 0], "a": a, "b": b, "Req": np.cbrt(a * b * b), "alpha": a / b}
        for name in INTERVAL_NAMES:
            res = pred[name] - truth[name]
            pooled = conformal_half_width(res, level)
            for k in range(n_kinds):
                sel = kind == k
                own = conformal_half_width(res[sel], level) if sel.sum() >= 50 else pooled
                widths[name][s, k] = own
        scores = ood_scores(np.where(mask, noisy_val, np.nan), reference)
        threshold[s] = float(np.quantile(scores, ood_quantile))
        rough_thr[s] = float(
            np.quantile(roughness(np.where(mask, noisy_val, np.nan)), ood_quantile)
        )
        if has_embedding:
            masked_ref = np.where(mask, reference[fit_rows], np.nan)
            _, _, emb_fit = model.predict_with_embedding(masked_ref)
            if emb_fit is None:
                has_embedding = False
            else:
                means, prec = fit_embedding(emb_fit, ref_kind[fit_rows], n_kinds)
                _, _, emb_val = model.predict_with_embedding(np.where(mask, noisy_val, np.nan))
                assert emb_val is not None
                e = mahalanobis_min(emb_val, means, prec)
                emb_thr[s] = float(np.quantile(e, ood_quantile))
                emb_mean.append(means)
                emb_prec.append(prec)
        r2 = {k: _r2(truth[k], pred[k]) for k in ("theta", "a", "b")}
        per_set.append(
            {
                "band_set_khz": format_band_set(sets[s]),
                "coverage": round(float(mask.mean()), 4),
                "accuracy": round(float((kind == truth["kind"]).mean()), 4),
                **{f"r2_{k}": round(v, 4) for k, v in r2.items()},
                "temperature": float(temperature[s]),
                "ood_threshold_db": round(threshold[s], 3),
                "ood_roughness_threshold_db": round(rough_thr[s], 3),
                "ood_embedding_threshold": round(emb_thr[s], 3) if has_embedding else None,
            }
        )
    coverage = np.array([p["coverage"] for p in per_set])
    r2_min = np.array([min(p["r2_theta"], p["r2_a"], p["r2_b"]) for p in per_set])
    min_cov = min_coverage_rule(coverage, r2_min, r2_floor)
    info = {
        "n_validation": int(split.validation.size),
        "noise_db_for_ood": noise_db,
        "ood_quantile": ood_quantile,
        "r2_floor": r2_floor,
        "seed": seed,
        "per_band_set": per_set,
    }
    trust = Trust(
        level=level,
        band_sets=tuple(format_band_set(s) for s in sets),
        masks=masks,
        min_coverage=round(min_cov, 4),
        temperature=temperature,
        half_widths=widths,
        ood_threshold=threshold,
        reference=np.round(reference * 100.0) / 100.0,  # what the file stores
        info=info,
    )
    trust.roughness_threshold = rough_thr
    if has_embedding:
        trust.embedding_mean = np.stack(emb_mean).astype(np.float32).astype(np.float64)
        trust.embedding_precision = np.stack(emb_prec).astype(np.float32).astype(np.float64)
        trust.embedding_threshold = emb_thr
    model.trust = trust
    return trust
