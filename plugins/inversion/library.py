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
from .search import sum_squared_errors


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


def scaled_search(
    lib: Library, ts: np.ndarray, measured: np.ndarray, scale_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """RMS misfit (dB, (T, L)) of each target to each library member at its best size
    scaling, and that scaling (T, L).

    ``ts`` (T, F) dB on the library grid, all targets measured on the bins ``measured``
    (F,) bool. Scales run from the smallest to the largest that keep the measured bins on
    the library grid, in steps of ``scale_step`` (fraction, e.g. 0.06), 1 included; a scaled
    member whose Req leaves its kind's bounds is skipped (misfit inf)."""
    f = lib.frequency
    fm = f[measured]
    x = ts[:, measured]
    lo_c, hi_c = f[0] / fm.min(), f[-1] / fm.max()
    step = np.log1p(scale_step)
    logs = np.concatenate(
        [np.arange(0.0, np.log(lo_c) - 1e-12, -step), np.arange(step, np.log(hi_c) + 1e-12, step)]
    )
    bounds = {g: lib.bounds(g) for g in (True, False)}
    req_lo = np.where(lib.gas, bounds[True][0][0], bounds[False][0][0])
    req_hi = np.where(lib.gas, bounds[True][1][0], bounds[False][1][0])
    grid = np.arange(f.size, dtype=float)
    best_rms = np.full((ts.shape[0], lib.ts.shape[0]), np.inf)
    best_scale = np.ones_like(best_rms)
    for log_c in logs:
        c = float(np.exp(log_c))
        pos = np.interp(c * fm, f, grid)
        i0 = np.minimum(pos.astype(int), f.size - 2)
        w = pos - i0
        scaled = lib.ts[:, i0] * (1.0 - w) + lib.ts[:, i0 + 1] * w + 20.0 * np.log10(c)
        inside = (lib.params[:, 0] * c >= req_lo) & (lib.params[:, 0] * c <= req_hi)
        sse, n = sum_squared_errors(scaled, scaled**2, x)
        rms = np.sqrt(sse / np.maximum(n, 1)[:, None])
        rms[:, ~inside] = np.inf
        better = rms < best_rms
        best_rms[better] = rms[better]
        best_scale[better] = c
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
