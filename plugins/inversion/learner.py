"""The ``inversion`` Classifier: library search plus exact-model refinement, per target, on
whatever frequencies were measured (docs/inversion.md).

Fitting stores the training spectra as the library, fits the likelihood scale ``tau`` on the
validation split (so the 90 % credible intervals hold 90 % of the truths) and sets the
misfit threshold of the out-of-distribution flag from refined validation spectra with 1 dB
noise. Predicting, per target: the library posterior (kind probability, the gas/liquid
log-likelihood ratio, credible intervals), the size-scaled search for starting points, and
least-squares refinement of the best few with the exact prolate-spheroid model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError, SpectraValidationError
from ts_toolkit.learn.base import SpectraLearner
from ts_toolkit.learn.data import KINDS, LearnArrays
from ts_toolkit.options import option

from .library import Library, scaled_search, top_candidates
from .refine import Fit, pick_bins, refine, spheroid_ts
from .search import kind_log_ratio, posterior_weights, sum_squared_errors, weighted_quantiles

if TYPE_CHECKING:
    import xarray as xr

#: Band sets (kHz) the validation calibration masks spectra to, in turn.
CALIBRATION_BAND_SETS = (
    "10-260", "45-260", "34-260", "90-260", "34-45+90-170", "90-170", "34-45",
)  # fmt: skip
#: Fewest near-broadside calibration fits that set their own threshold.
MIN_BROADSIDE_FITS = 20
#: Interval variables and their units.
INTERVALS = {"theta": "degree", "a": "m", "b": "m", "Req": "m", "alpha": "1"}


@dataclass
class InversionOptions:
    """Options of the ``inversion`` model."""

    frequency_stride: int = option(2, "Keep every n-th frequency of the training grid.")
    scale_step: float = option(0.06, "Step of the size scalings tried in the search (fraction).")
    starts: int = option(3, "Best scaled matches refined with the exact model (0: none).")
    max_evaluations: int = option(20, "Exact-model evaluations per refinement.")
    fit_bins: int = option(24, "Measured bins the refinement fits (evenly spread).")
    level: float = option(0.9, "Level of the credible intervals.")
    tau_targets: int = option(600, "Validation targets the likelihood scale is fitted on.")
    calibration_targets: int = option(
        200, "Validation targets refined to set the misfit threshold."
    )
    ood_quantile: float = option(0.99, "Quantile of validation misfits used as threshold.")
    broadside_deg: float = option(
        80.0,
        "Fits at theta >= this (near broadside) are judged against their own misfit "
        "threshold (0: one threshold for every fit).",
        unit="degree",
    )
    broadside_targets: int = option(
        160,
        "Extra validation targets within 5 degrees of broadside_deg or above it, refined to "
        "set the near-broadside threshold.",
    )
    noise_db: float = option(1.0, "TS noise (dB) added to validation spectra for the threshold.")
    seed: int = option(0, "Seed of the validation noise and subsample.")


def _bands_masks(frequency: np.ndarray) -> list[np.ndarray]:
    from ts_toolkit.learn.bands import band_masks, parse_band_sets

    return list(band_masks(frequency, parse_band_sets(";".join(CALIBRATION_BAND_SETS)), "bands"))


def noisy_masked(
    ts: np.ndarray, noise_db: float, frequency: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``ts`` (T, F) dB with ``noise_db`` Gaussian noise, row i masked (NaN) to calibration
    band set i mod 7 of :data:`CALIBRATION_BAND_SETS` on ``frequency`` (Hz): the spectra
    the misfit thresholds are set on."""
    noisy = ts + rng.normal(0.0, noise_db, ts.shape)
    masks = _bands_masks(frequency)
    for i in range(ts.shape[0]):
        noisy[i, ~masks[i % len(masks)]] = np.nan
    return noisy


class InversionLearner(SpectraLearner):
    """Physics-based inversion: library search and exact prolate-spheroid refinement."""

    name: ClassVar[str] = "inversion"
    Options: ClassVar[type] = InversionOptions
    #: Takes any part of its grid: the search and the fit use the measured bins only.
    any_band: ClassVar[bool] = True
    #: ``train`` scores this many validation targets (a seeded subsample; ~1.5 s each).
    validation_report_targets: ClassVar[int] = 100

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        if self.settings["frequency_stride"] < 1:
            raise SpectraValidationError("option frequency_stride must be >= 1")
        if not 0.0 < self.settings["level"] < 1.0:
            raise SpectraValidationError("option level must lie between 0 and 1")
        self.library_: Library | None = None
        self.tau_db_: float | None = None
        self.misfit_threshold_db_: float | None = None
        #: Threshold for fits at theta >= broadside_deg (None: misfit_threshold_db_ for all).
        self.misfit_threshold_broadside_db_: float | None = None
        self._raw: tuple[Any, Any] | None = None

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, train: xr.Dataset, validation: xr.Dataset | None = None) -> InversionLearner:
        """Build the library from ``train`` and calibrate on ``validation`` (required)."""
        if validation is None or validation.sizes["target"] == 0:
            raise SpectraValidationError("the inversion needs a validation split to calibrate")
        stride = int(self.settings["frequency_stride"])
        train = train.isel(frequency=slice(None, None, stride))
        validation = validation.isel(frequency=slice(None, None, stride))
        self._raw = (train, validation)
        try:
            super().fit(train, validation)
        finally:
            self._raw = None
        return self

    def _fit(self, train: LearnArrays, validation: LearnArrays | None) -> dict[str, Any]:
        assert self._raw is not None
        raw_train, raw_val = self._raw
        self.library_ = library_of(raw_train)
        val_ts = np.asarray(raw_val["TS"].transpose("target", "frequency").values, float)
        truth = _truth(raw_val)
        rng = np.random.default_rng(int(self.settings["seed"]))
        n_tau = min(int(self.settings["tau_targets"]), val_ts.shape[0])
        pick = np.sort(rng.choice(val_ts.shape[0], n_tau, replace=False))
        self.tau_db_ = self._fit_tau(val_ts[pick], {k: v[pick] for k, v in truth.items()})
        self.misfit_threshold_db_, misfits, fitted_theta, used = self._fit_threshold(val_ts)
        broadside = self._fit_broadside_threshold(
            val_ts, truth["theta"], misfits, fitted_theta, used
        )
        return {
            "library_size": int(self.library_.ts.shape[0]),
            "tau_db": round(self.tau_db_, 4),
            "misfit_threshold_db": round(self.misfit_threshold_db_, 4),
            "threshold_targets": int(misfits.size),
            **broadside,
            "calibration_band_sets_khz": "; ".join(CALIBRATION_BAND_SETS),
        }

    def _fit_tau(self, ts: np.ndarray, truth: dict[str, np.ndarray]) -> float:
        """The likelihood scale (dB) at which the library posterior's intervals cover
        ``level`` of the validation truths, over all calibration band sets (bisection)."""
        lib = self.library_
        assert lib is not None
        level = float(self.settings["level"])
        rms_all = []
        for mask in _bands_masks(lib.frequency):
            sse, n = sum_squared_errors(lib.ts, lib.ts_sq, np.where(mask, ts, np.nan))
            rms_all.append(np.sqrt(sse / np.maximum(n, 1)[:, None]))
        values = {"theta": lib.params[:, 2], "a": lib.a, "b": lib.b}
        q = np.array([(1 - level) / 2, (1 + level) / 2])

        def coverage(tau: float) -> float:
            hits = []
            for rms in rms_all:
                w = posterior_weights(rms, tau)
                for name, v in values.items():
                    b = weighted_quantiles(v, w, q)
                    hits.append(((truth[name] >= b[:, 0]) & (truth[name] <= b[:, 1])).mean())
            return float(np.mean(hits))

        lo, hi = np.log(0.05), np.log(5.0)
        for _ in range(10):
            mid = 0.5 * (lo + hi)
            if coverage(float(np.exp(mid))) < level:
                lo = mid
            else:
                hi = mid
        return float(np.exp(hi))

    def _fit_threshold(self, ts: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The ``ood_quantile`` of the refined misfits of ``calibration_targets`` validation
        spectra, each masked to a calibration band set in turn, with ``noise_db`` noise;
        also the misfits, the fitted theta (deg) and the validation rows used."""
        lib = self.library_
        assert lib is not None
        rng = np.random.default_rng(int(self.settings["seed"]))
        n = min(int(self.settings["calibration_targets"]), ts.shape[0])
        pick = rng.choice(ts.shape[0], n, replace=False)
        res = self.invert(self._noisy_masked(ts[pick], rng))
        threshold = float(np.quantile(res["misfit"], float(self.settings["ood_quantile"])))
        return threshold, res["misfit"], res["fit"][:, 2], pick

    def _noisy_masked(self, ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        assert self.library_ is not None
        return noisy_masked(ts, float(self.settings["noise_db"]), self.library_.frequency, rng)

    def _fit_broadside_threshold(
        self,
        ts: np.ndarray,
        theta: np.ndarray,
        misfits: np.ndarray,
        fitted_theta: np.ndarray,
        used: np.ndarray,
    ) -> dict[str, Any]:
        """The near-broadside misfit threshold: the ``ood_quantile`` of the misfits of the
        calibration fits at theta >= ``broadside_deg``, among the random ones of
        :meth:`_fit_threshold` (``misfits``, ``fitted_theta``, validation rows ``used``)
        and ``broadside_targets`` more validation spectra whose true theta is within 5
        degrees of ``broadside_deg`` or above it (a stratum: at random, about one target in
        nine is fitted there).

        Why: near broadside a spheroid's spectrum changes slowly with its angle, so fits
        reach the noise level (1 dB noise: 99th percentile about 2.9 dB), while at oblique
        angles the misfit surface is rugged and a few fits stop in a neighbouring minimum
        (up to about 4.5 dB). One threshold for both lets through elastic spheres, which a
        spheroid fits at broadside no better than about 3 dB (docs/inversion.md)."""
        cut = float(self.settings["broadside_deg"])
        self.misfit_threshold_broadside_db_ = None
        if cut <= 0:
            return {}
        rng = np.random.default_rng(int(self.settings["seed"]) + 1)
        pool = np.setdiff1d(np.flatnonzero(theta >= cut - 5.0), used)
        n = min(int(self.settings["broadside_targets"]), pool.size)
        if n:
            pick = np.sort(rng.choice(pool, n, replace=False))
            res = self.invert(self._noisy_masked(ts[pick], rng))
            misfits = np.concatenate([misfits, res["misfit"]])
            fitted_theta = np.concatenate([fitted_theta, res["fit"][:, 2]])
        near = misfits[fitted_theta >= cut]
        if near.size < MIN_BROADSIDE_FITS:  # too few for a quantile: one threshold for all
            return {"broadside_threshold_targets": int(near.size)}
        q = float(np.quantile(near, float(self.settings["ood_quantile"])))
        self.misfit_threshold_broadside_db_ = q
        return {
            "misfit_threshold_broadside_db": round(q, 4),
            "broadside_threshold_targets": int(near.size),
        }

    def misfit_thresholds(self, fitted_theta: np.ndarray) -> np.ndarray:
        """The misfit threshold (dB) each fit is judged against, by its theta (deg)."""
        general = float(self.misfit_threshold_db_ or np.inf)
        near = self.misfit_threshold_broadside_db_
        if near is None:
            return np.full(np.shape(fitted_theta), general)
        cut = float(self.settings["broadside_deg"])
        return np.where(np.asarray(fitted_theta) >= cut, near, general)

    # -- predicting ------------------------------------------------------------------------
    def invert(self, ts: np.ndarray, refine: bool = True) -> dict[str, np.ndarray]:
        """Invert TS (T, F) dB on the model grid (NaN = unmeasured): per target the
        posterior kind probabilities, gas/liquid log-likelihood ratio, interval bounds, and
        the refined fit (Req, alpha, theta, g, h) and its misfit: RMS dB over every measured
        bin (an unconverged bin counts as 30 dB). ``refine=False``: the library posterior
        only (fit and misfit NaN; for measuring the intervals on many targets)."""
        lib = self.library_
        assert lib is not None and self.tau_db_ is not None
        ts = np.asarray(ts, float)
        n_t = ts.shape[0]
        level = float(self.settings["level"])
        q = np.array([(1 - level) / 2, 0.5, (1 + level) / 2])
        out: dict[str, np.ndarray] = {
            "p_gas": np.full(n_t, np.nan),
            "llr": np.full(n_t, np.nan),
            "misfit": np.full(n_t, np.nan),
            "fit": np.full((n_t, 5), np.nan),
            "c_w": np.full(n_t, np.nan),
        }
        values = {"theta": lib.params[:, 2], "a": lib.a, "b": lib.b, "Req": lib.params[:, 0]}
        values["alpha"] = lib.params[:, 1]
        for name in INTERVALS:
            out[f"{name}_low"] = np.full(n_t, np.nan)
            out[f"{name}_high"] = np.full(n_t, np.nan)
            out[f"{name}_median"] = np.full(n_t, np.nan)
        measured = np.isfinite(ts)
        groups: dict[bytes, list[int]] = {}
        for t in range(n_t):
            if measured[t].any():
                groups.setdefault(np.packbits(measured[t]).tobytes(), []).append(t)
        for rows in groups.values():
            for start in range(0, len(rows), 64):
                idx = np.asarray(rows[start : start + 64])
                self._invert_group(ts[idx], measured[idx[0]], idx, out, values, q, refine)
        return out

    def _invert_group(
        self,
        ts: np.ndarray,
        mask: np.ndarray,
        idx: np.ndarray,
        out: dict[str, np.ndarray],
        values: dict[str, np.ndarray],
        q: np.ndarray,
        refine: bool = True,
    ) -> None:
        lib = self.library_
        assert lib is not None and self.tau_db_ is not None
        tau = self.tau_db_
        sse, n = sum_squared_errors(lib.ts, lib.ts_sq, ts)
        rms = np.sqrt(sse / np.maximum(n, 1)[:, None])
        w = posterior_weights(rms, tau)
        llr = kind_log_ratio(rms, lib.gas, tau)
        p_gas = 1.0 / (1.0 + np.exp(-np.clip(llr, -700, 700)))
        out["llr"][idx] = llr
        out["p_gas"][idx] = p_gas
        for name, v in values.items():
            b = weighted_quantiles(v, w, q)
            out[f"{name}_low"][idx] = b[:, 0]
            out[f"{name}_median"][idx] = b[:, 1]
            out[f"{name}_high"][idx] = b[:, 2]
        if not refine:
            return
        srms, sscale = scaled_search(lib, ts, mask, float(self.settings["scale_step"]))
        bins = pick_bins(mask, int(self.settings["fit_bins"]))
        f_bins = lib.frequency[bins]
        for k, t in enumerate(idx):
            gas = bool(p_gas[k] >= 0.5)
            cands = top_candidates(
                lib, srms[k], sscale[k], gas, max(1, int(self.settings["starts"]))
            )
            best = self._fit_candidates(cands, ts[k], bins, f_bins, gas)
            out["fit"][t] = best.params
            out["c_w"][t] = best.c_w
            # the misfit on every measured bin (the fit saw a few; narrow nulls it skipped,
            # e.g. an elastic sphere's, count here)
            full = spheroid_ts(lib.frequency[mask], best.params, best.c_w) - ts[k, mask]
            out["misfit"][t] = float(np.sqrt(np.mean(np.where(np.isfinite(full), full, 30.0) ** 2)))

    def _fit_candidates(
        self, cands: list[Any], ts: np.ndarray, bins: np.ndarray, f_bins: np.ndarray, gas: bool
    ) -> Fit:
        lib = self.library_
        assert lib is not None
        lower, upper = lib.bounds(gas)
        best: Fit | None = None
        for cand in cands:
            c_w = float(lib.c_w[cand.index])
            if int(self.settings["starts"]) == 0:
                # no refinement: the scaled member's misfit on the fit's bins
                r = spheroid_ts(f_bins, cand.params, c_w) - ts[bins]
                fit = Fit(cand.params, c_w, float(np.sqrt(np.nanmean(r**2))), 1)
            else:
                fit = refine(
                    f_bins, ts[bins], cand.params, c_w, lower, upper,
                    int(self.settings["max_evaluations"]),
                )  # fmt: skip
            if best is None or fit.rms_db < best.rms_db:
                best = fit
        assert best is not None
        return best

    def predict(self, spectra: xr.Dataset) -> xr.Dataset:
        """Kind, its probability, theta (deg), a, b, Req (m), alpha of the refined fit,
        the fitted contrasts, misfit (dB), gas/liquid log-likelihood ratio, 90 % credible
        intervals, coverage and the out-of-distribution flag (misfit above threshold)."""
        import xarray as xr

        from ts_toolkit.errors import TsToolkitError
        from ts_toolkit.learn.data import check_grid, restrict_to_grid, ts_array

        if not self.is_fitted or self.library_ is None:
            raise TsToolkitError("model 'inversion' is not fitted yet")
        spectra = restrict_to_grid(spectra, np.asarray(self.frequency))
        check_grid(self.frequency, spectra["frequency"].values, "the spectra")
        ts = ts_array(spectra, "the spectra")
        res = self.invert(ts)
        p_gas = res["p_gas"]
        ok = np.isfinite(p_gas)
        kind = np.where(ok, np.where(p_gas >= 0.5, KINDS[0], KINDS[1]), "unknown").astype(object)
        fit = res["fit"]
        req, alpha = fit[:, 0], fit[:, 1]
        a = req * alpha ** (2.0 / 3.0)
        b = req / alpha ** (1.0 / 3.0)
        threshold = float(self.misfit_threshold_db_ or np.inf)
        thresholds = self.misfit_thresholds(fit[:, 2])
        data: dict[str, tuple[np.ndarray, dict[str, str]]] = {
            "kind": (kind, {}),
            "probability": (np.where(p_gas >= 0.5, p_gas, 1.0 - p_gas), {"units": "1"}),
            "theta": (fit[:, 2], {"units": "degree"}),
            "a": (a, {"units": "m"}),
            "b": (b, {"units": "m"}),
            "Req": (req, {"units": "m"}),
            "alpha": (alpha, {"units": "1"}),
            "density_contrast": (fit[:, 3], {"units": "1"}),
            "sound_speed_contrast": (fit[:, 4], {"units": "1"}),
            "misfit": (res["misfit"], {"units": "1"}),
            "llr_gas_liquid": (res["llr"], {"units": "1"}),
            "coverage": (np.isfinite(ts).mean(axis=1), {"units": "1"}),
            "low_coverage": (np.zeros(ts.shape[0], bool), {}),
            "ood": (np.where(ok, res["misfit"] > thresholds, False), {}),
        }
        for name, unit in INTERVALS.items():
            for end in ("low", "high"):
                data[f"{name}_{end}"] = (res[f"{name}_{end}"], {"units": unit})
        if KINDS[0] != "gas":  # the library's kind flag is "gas"
            raise RuntimeError("KINDS changed: update the inversion plugin")
        out = xr.Dataset(
            coords={"target": spectra["target"].values},
            attrs={
                "model": self.name,
                "interval_level": float(self.settings["level"]),
                "misfit_threshold_db": threshold,
                "misfit_threshold_broadside_db": float(
                    self.misfit_threshold_broadside_db_ or threshold
                ),
                "broadside_deg": float(self.settings["broadside_deg"]),
                "tau_db": float(self.tau_db_ or np.nan),
            },
        )
        for key, (values, attrs) in data.items():
            out[key] = ("target", values, attrs)
        return out

    def model_spectrum(
        self,
        frequency: np.ndarray,
        kind: str,
        a: float,
        b: float,
        theta: float,
        density_contrast: float | None = None,
        sound_speed_contrast: float | None = None,
    ) -> np.ndarray:
        """Exact TS (dB) at ``frequency`` (Hz) of a spheroid of ``kind`` with semi-axes
        ``a``, ``b`` (m) at ``theta`` (deg). Contrasts not given take the middle of the
        kind's range in the library (what a learned model's answer is drawn with)."""

        assert self.library_ is not None
        gas = kind == "gas"
        lo, hi = self.library_.bounds(gas)
        g = 0.5 * (lo[3] + hi[3]) if density_contrast is None else density_contrast
        h = 0.5 * (lo[4] + hi[4]) if sound_speed_contrast is None else sound_speed_contrast
        req = float(np.cbrt(a * b * b))
        params = np.array([req, a / b, theta, g, h], dtype=float)
        return spheroid_ts(
            np.asarray(frequency, float), params, float(np.median(self.library_.c_w))
        )

    def _predict(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError("the inversion predicts from TS in dB (use predict)")

    def predict_with_embedding(
        self, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Class probabilities (n, 2) and (theta deg, a m, b m) (n, 3) of the inversion."""
        res = self.invert(ts)
        proba = np.stack([res["p_gas"], 1.0 - res["p_gas"]], axis=1)
        fit = res["fit"]
        a = fit[:, 0] * fit[:, 1] ** (2.0 / 3.0)
        b = fit[:, 0] / fit[:, 1] ** (1.0 / 3.0)
        return proba, np.stack([fit[:, 2], a, b], axis=1), None

    # -- model file --------------------------------------------------------------------------
    def _export_weights(self) -> dict[str, bytes]:
        assert self.library_ is not None
        import json

        calib = {
            "tau_db": self.tau_db_,
            "misfit_threshold_db": self.misfit_threshold_db_,
            "misfit_threshold_broadside_db": self.misfit_threshold_broadside_db_,
        }
        return {**self.library_.blobs(), "inversion.json": json.dumps(calib).encode()}

    def _import_weights(self, files: Mapping[str, bytes]) -> None:
        import json

        assert self.frequency is not None
        self.library_ = Library.from_blobs(self.frequency, dict(files))
        try:
            calib = json.loads(files["inversion.json"])
            self.tau_db_ = float(calib["tau_db"])
            self.misfit_threshold_db_ = float(calib["misfit_threshold_db"])
            near = calib.get("misfit_threshold_broadside_db")  # absent in older files
            self.misfit_threshold_broadside_db_ = None if near is None else float(near)
        except (KeyError, ValueError, TypeError) as exc:
            raise InputFileError(
                f"its inversion calibration is missing or damaged: {exc}"
            ) from None


def library_of(ds: xr.Dataset) -> Library:
    """A :class:`Library` from a labelled spectra Dataset (prolate-spheroid parameters)."""
    needed = ("kind", "Req", "alpha", "theta", "rho_s", "c_s", "rho_w", "c_w")
    missing = [v for v in needed if v not in ds.variables]
    if missing:
        raise SpectraValidationError(
            f"the inversion's library needs the simulated parameters {missing}; use spectra "
            "made by 'ts-toolkit simulate' with the prolate-spheroid simulator"
        )
    ts = np.asarray(ds["TS"].transpose("target", "frequency").values, float)
    keep = np.isfinite(ts).all(axis=1)
    v = {k: np.asarray(ds[k].values)[keep] for k in needed}
    params = np.stack(
        [
            v["Req"].astype(float),
            v["alpha"].astype(float),
            v["theta"].astype(float),
            v["rho_s"].astype(float) / v["rho_w"].astype(float),
            v["c_s"].astype(float) / v["c_w"].astype(float),
        ],
        axis=1,
    )
    return Library(
        np.asarray(ds["frequency"].values, float),
        ts[keep],
        params,
        v["kind"].astype(str) == "gas",
        v["c_w"].astype(float),
    )


def _truth(ds: xr.Dataset) -> dict[str, np.ndarray]:
    from ts_toolkit.learn.data import truth_of

    return truth_of(ds, "validation data")
