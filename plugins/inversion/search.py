"""Library search: the misfit of every library spectrum to a measured one, on the measured
bins only, and the posterior weights, kind probabilities and credible intervals it gives.

Noise model (docs/inversion.md): the measured TS (dB) at each measured grid bin is the
spectrum of some library member plus independent Gaussian errors of standard deviation
``sigma`` dB. ``sigma`` absorbs measurement noise, the library's spacing and the
correlation of neighbouring bins, so it is not the measurement noise: it is fitted on the
validation split so that the 90 % intervals hold 90 % of the truths. The library is a random
sample of the parameter space's prior, so the weights ``exp(-SSE / (2 sigma²))`` of its
members are an importance sample of the posterior (flat within the space's bounds).
"""

from __future__ import annotations

import numpy as np

#: Targets per block in the matrix products of :func:`sum_squared_errors`.
BLOCK = 128


def sum_squared_errors(
    library: np.ndarray, library_sq: np.ndarray, ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squared dB differences of each target to each library spectrum over the
    target's measured (finite) bins, and the number of those bins.

    ``library`` (L, F) dB, ``library_sq`` its elementwise square, ``ts`` (T, F) dB with NaN
    where unmeasured. Returns (T, L) SSE (dB²) and (T,) bin counts. Computed as
    Σ m x² − 2 (m x)·l + m·l² in float64, in blocks of :data:`BLOCK` targets.
    """
    ts = np.asarray(ts, dtype=np.float64)
    mask = np.isfinite(ts)
    x = np.where(mask, ts, 0.0)
    m = mask.astype(np.float64)
    out = np.empty((ts.shape[0], library.shape[0]))
    for i in range(0, ts.shape[0], BLOCK):
        sl = slice(i, i + BLOCK)
        sse = (x[sl] ** 2).sum(axis=1)[:, None] - 2.0 * (x[sl] @ library.T) + m[sl] @ library_sq.T
        out[sl] = np.maximum(sse, 0.0)
    return out, mask.sum(axis=1)


def posterior_weights(sse: np.ndarray, sigma_db: float) -> np.ndarray:
    """Normalised weights (T, L) ∝ exp(−SSE / (2 σ²)) of the library members."""
    log_w = -sse / (2.0 * sigma_db**2)
    log_w -= log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=1, keepdims=True)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles ``q`` (Q,) of ``values`` (L,) under each row of ``weights`` (T, L):
    (T, Q), from the weighted empirical distribution function (midpoint rule)."""
    order = np.argsort(values)
    v = values[order]
    w = weights[:, order]
    cdf = np.cumsum(w, axis=1) - 0.5 * w
    out = np.empty((weights.shape[0], q.size))
    for t in range(weights.shape[0]):
        out[t] = np.interp(q, cdf[t], v)
    return out


def kind_log_ratio(sse: np.ndarray, is_first: np.ndarray, sigma_db: float) -> np.ndarray:
    """log of the marginal likelihood of the first kind over the second (T,): log Σ w over
    the first kind's members minus over the second's (the library holds equal numbers of
    each, so this is the log-likelihood ratio under equal priors)."""
    log_w = -sse / (2.0 * sigma_db**2)
    out = np.empty(sse.shape[0])
    for t in range(sse.shape[0]):
        first = log_w[t, is_first]
        second = log_w[t, ~is_first]
        out[t] = _logsumexp(first) - _logsumexp(second) - np.log(first.size / second.size)
    return out


def _logsumexp(v: np.ndarray) -> float:
    top = float(v.max())
    return top + float(np.log(np.exp(v - top).sum()))
