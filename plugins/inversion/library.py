"""The inversion's library: simulated spectra with their parameters, kept as int16
centi-decibels in model files, and the size-scaled search over it.

A fluid spheroid's backscattering amplitude scales with its size at fixed k·size, so a
library spectrum of radius Req stands for every radius c·Req of the same shape and
contrasts: TS(f; c·Req) = TS(c·f; Req) + 20 log10 c, wherever c·f lies on the library's
grid. The search tries each library member at a ladder of such scalings (within the kind's
Req bounds), which makes the library far denser in size than its members.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ts_toolkit.errors import InputFileError

from .refine import FIT_NAMES


@dataclass
class Library:
    """Spectra ``ts`` (L, F) dB re 1 m² on ``frequency`` (F,) Hz; ``params`` (L, 5) as
    :data:`~.refine.FIT_NAMES` (Req m, alpha, theta deg, g, h); ``gas`` (L,) bool;
    ``c_w`` (L,) m/s."""

    frequency: np.ndarray
    ts: np.ndarray
    params: np.ndarray
    gas: np.ndarray
    c_w: np.ndarray

    def __post_init__(self) -> None:
        self.ts_sq = self.ts**2
        #: products of neighbouring bins (L, F - 1), for the interpolated search
        self.ts_cross = self.ts[:, :-1] * self.ts[:, 1:]

    @property
    def a(self) -> np.ndarray:
        return self.params[:, 0] * self.params[:, 1] ** (2.0 / 3.0)

    @property
    def b(self) -> np.ndarray:
        return self.params[:, 0] / self.params[:, 1] ** (1.0 / 3.0)

    def bounds(self, gas: bool) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (5,) of the parameters of one kind's members."""
        sel = self.params[self.gas == gas]
        return sel.min(axis=0), sel.max(axis=0)

    # -- storage ------------------------------------------------------------------------
    def blobs(self) -> dict[str, bytes]:
        """The library as .npy blobs for a model file: TS rounded to 0.01 dB, stored as the
        first value and the steps along frequency (int16 centi-dB)."""
        if not np.isfinite(self.ts).all():
            raise ValueError("a library spectrum has missing TS values")
        centi = np.round(self.ts * 100.0).astype(np.int32)
        # first column, then steps along frequency: smooth spectra give small steps,
        # which the model file's deflate compresses far better than the levels
        steps = np.concatenate([centi[:, :1], np.diff(centi, axis=1)], axis=1)
        if np.abs(steps).max() > np.iinfo(np.int16).max:
            raise ValueError("a library spectrum steps by more than 327 dB")
        arrays = {
            "library-ts.npy": steps.astype(np.int16),
            "library-params.npy": self.params.astype(np.float64),
            "library-gas.npy": self.gas.astype(np.bool_),
            "library-c_w.npy": self.c_w.astype(np.float64),
        }
        out = {}
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            out[name] = buf.getvalue()
        return out

    @classmethod
    def from_blobs(cls, frequency: np.ndarray, files: dict[str, bytes]) -> Library:
        """Read :meth:`blobs` back (no pickles); raises :class:`InputFileError`."""
        arrays = {}
        for name in ("library-ts.npy", "library-params.npy", "library-gas.npy", "library-c_w.npy"):
            if name not in files:
                raise InputFileError(f"its inversion library lacks {name}")
            try:
                arrays[name] = np.load(io.BytesIO(files[name]), allow_pickle=False)
            except ValueError as exc:
                raise InputFileError(
                    f"its inversion library part {name} is damaged: {exc}"
                ) from None
        centi = arrays["library-ts.npy"]
        n = centi.shape[0] if centi.ndim == 2 else -1
        ok = (
            centi.ndim == 2
            and centi.shape[1] == frequency.size
            and arrays["library-params.npy"].shape == (n, len(FIT_NAMES))
            and arrays["library-gas.npy"].shape == (n,)
            and arrays["library-c_w.npy"].shape == (n,)
        )
        if not ok:
            raise InputFileError("its inversion library does not fit its frequency grid")
        ts = np.cumsum(centi.astype(np.int32), axis=1) / 100.0
        return cls(
            np.asarray(frequency, float),
            ts,
            arrays["library-params.npy"],
            arrays["library-gas.npy"],
            arrays["library-c_w.npy"],
        )


@dataclass
class Candidate:
    """A library member ``index`` scaled in size by ``scale``: its parameters and RMS
    misfit (dB) on the measured bins."""

    index: int
    scale: float
    rms_db: float
    params: np.ndarray


def scale_ladder(frequency: np.ndarray, measured: np.ndarray, scale_step: float) -> np.ndarray:
    """The size scalings (S,) tried by :func:`scaled_search`: 1, then down and up in steps of
    ``scale_step`` (fraction) as far as the measured bins stay on the grid ``frequency``."""
    fm = frequency[measured]
    lo_c, hi_c = frequency[0] / fm.min(), frequency[-1] / fm.max()
    step = np.log1p(scale_step)
    logs = np.concatenate(
        [np.arange(0.0, np.log(lo_c) - 1e-12, -step), np.arange(step, np.log(hi_c) + 1e-12, step)]
    )
    return np.exp(logs)


def interpolation_weights(frequency: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of a spectrum on ``frequency`` (F,) at ``at`` (N,), all within
    it: the lower grid index (N,) and the weight of the upper neighbour (N,)."""
    pos = np.interp(at, frequency, np.arange(frequency.size, dtype=float))
    i0 = np.minimum(pos.astype(int), frequency.size - 2)
    return i0, pos - i0


#: Columns (scalings x targets) per matrix product in :func:`scaled_search`.
SEARCH_COLUMNS = 256


def scaled_search(
    lib: Library, ts: np.ndarray, measured: np.ndarray, scale_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """RMS misfit (dB, (T, L)) of each target to each library member at its best size
    scaling, and that scaling (T, L).

    ``ts`` (T, F) dB on the library grid, all targets measured on the bins ``measured``
    (F,) bool. Scales: :func:`scale_ladder`; a scaled member whose Req leaves its kind's
    bounds is skipped (misfit inf).

    The scaled member at measured bin i is s_i = (1 − w_i) l[j_i] + w_i l[j_i + 1] + d
    (linear interpolation at c·f_i, d = 20 log10 c), so its squared error to x is
    Σ x² − 2 Σ x_i s_i + Σ s_i², and each sum is the library times a vector on the grid:
    Σ x_i s_i = l·P(x) + d Σ x, Σ s_i = l·P(1) + n d and
    Σ (s_i − d)² = l²·U + (l[j] l[j + 1])·V, with P, U, V the interpolation weights
    gathered per grid bin. The library is read in a few matrix products for all scalings
    (no interpolated copy of it), with the same misfits as interpolating it.
    """
    f = lib.frequency
    fm = f[measured]
    x = np.asarray(ts, float)[:, measured]
    n_t, n_f, n_m = x.shape[0], f.size, fm.size
    scales = scale_ladder(f, measured, scale_step)
    n_s = scales.size
    bounds = {g: lib.bounds(g) for g in (True, False)}
    req_lo = np.where(lib.gas, bounds[True][0][0], bounds[False][0][0])
    req_hi = np.where(lib.gas, bounds[True][1][0], bounds[False][1][0])
    # per scaling: where the measured bins land on the grid
    proj_x = np.zeros((n_s, n_f, n_t))  # P(x) per target
    proj_1 = np.zeros((n_f, n_s))  # P(1)
    sq_u = np.zeros((n_f, n_s))
    sq_v = np.zeros((n_f - 1, n_s))
    for s, c in enumerate(scales):
        i0, w = interpolation_weights(f, c * fm)
        np.add.at(proj_x[s], i0, (1.0 - w)[:, None] * x.T)
        np.add.at(proj_x[s], i0 + 1, w[:, None] * x.T)
        proj_1[:, s] = np.bincount(i0, 1.0 - w, n_f) + np.bincount(i0 + 1, w, n_f)
        sq_u[:, s] = np.bincount(i0, (1.0 - w) ** 2, n_f) + np.bincount(i0 + 1, w**2, n_f)
        sq_v[:, s] = np.bincount(i0, 2.0 * (1.0 - w) * w, n_f - 1)
    d = 20.0 * np.log10(scales)  # (S,)
    sum_l = lib.ts @ proj_1  # (L, S)
    sum_l2 = lib.ts_sq @ sq_u + lib.ts_cross @ sq_v  # (L, S)
    base = sum_l2 + 2.0 * d * sum_l + n_m * d**2  # Σ s_i² (L, S)
    sum_x = x.sum(axis=1)  # (T,)
    sum_x2 = (x**2).sum(axis=1)
    inside = (lib.params[:, 0, None] * scales >= req_lo[:, None]) & (
        lib.params[:, 0, None] * scales <= req_hi[:, None]
    )  # (L, S)
    best_rms = np.full((n_t, lib.ts.shape[0]), np.inf)
    best_scale = np.ones_like(best_rms)
    per = max(1, SEARCH_COLUMNS // max(n_t, 1))
    for s0 in range(0, n_s, per):
        sl = slice(s0, min(s0 + per, n_s))
        k = sl.stop - sl.start
        cross = lib.ts @ proj_x[sl].transpose(1, 0, 2).reshape(n_f, k * n_t)  # (L, k T)
        cross = cross.reshape(-1, k, n_t)
        for j in range(k):
            s = s0 + j
            sx = cross[:, j, :].T + d[s] * sum_x[:, None]  # Σ x_i s_i (T, L)
            sse = np.maximum(sum_x2[:, None] - 2.0 * sx + base[:, s], 0.0)
            rms = np.sqrt(sse / n_m)
            rms[:, ~inside[:, s]] = np.inf
            better = rms < best_rms
            best_rms[better] = rms[better]
            best_scale[better] = scales[s]
    return best_rms, best_scale


def top_candidates(
    lib: Library, rms: np.ndarray, scale: np.ndarray, gas: bool, keep: int
) -> list[Candidate]:
    """The ``keep`` best scaled members of one kind for one target (rows of
    :func:`scaled_search`), best first."""
    r = np.where(lib.gas == gas, rms, np.inf)
    order = np.argsort(r)[:keep]
    out = []
    for j in order:
        if not np.isfinite(r[j]):
            break
        p = lib.params[j].copy()
        p[0] *= scale[j]
        out.append(Candidate(int(j), float(scale[j]), float(r[j]), p))
    return out
