"""Band sets: which parts of a model's frequency grid a measurement covers.

A *band* is a closed frequency interval; a *band set* is a union of bands (the bands of the
transducers a survey has). Band sets are written as text in kHz: bands ``LO-HI`` joined by
``+``, band sets separated by ``;``, e.g. ``"10-260; 45-90+90-170+160-260; 34-45+90-170"``.
Frequencies inside are in Hz.

Used to train one model for many band sets (a learner masks the spectra of each training
batch to a random band set), to score it per band set, and to compare the measured part of
a spectrum with the sets a model was calibrated on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidParameterError

#: One band set: tuple of (low, high) band edges in Hz.
BandSet = tuple[tuple[float, float], ...]


def parse_band_set(text: str) -> BandSet:
    """``"34-45+90-170"`` (kHz) → ((34e3, 45e3), (90e3, 170e3)) in Hz."""
    bands = []
    for part in text.split("+"):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            if not sep:
                raise ValueError
            low, high = float(lo) * 1e3, float(hi) * 1e3
        except ValueError:
            raise InvalidParameterError(
                f"band {part!r} in band set {text.strip()!r} is not LOW-HIGH in kHz "
                f"(e.g. 34-45+90-170)"
            ) from None
        if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
            raise InvalidParameterError(
                f"band {part!r} in band set {text.strip()!r} needs 0 <= LOW < HIGH (kHz)"
            )
        bands.append((low, high))
    return tuple(sorted(bands))


def parse_band_sets(text: str) -> list[BandSet]:
    """Band sets separated by ``;`` (see the module docstring); empty text → []."""
    return [parse_band_set(p) for p in text.split(";") if p.strip()]


def format_band_set(band_set: BandSet) -> str:
    """The text form of a band set, in kHz (``"34-45+90-170"``)."""
    return "+".join(f"{lo / 1e3:g}-{hi / 1e3:g}" for lo, hi in band_set)


def band_mask(frequency: np.ndarray, band_set: BandSet) -> np.ndarray:
    """Boolean mask of the grid ``frequency`` (Hz) inside any band of ``band_set`` (edges
    included, to 1 mHz)."""
    f = np.asarray(frequency, dtype=float)
    out = np.zeros(f.shape, dtype=bool)
    for lo, hi in band_set:
        out |= (f >= lo - 1e-3) & (f <= hi + 1e-3)
    return out


def band_masks(
    frequency: np.ndarray, band_sets: Sequence[BandSet], origin: str = "band sets"
) -> np.ndarray:
    """(n_sets, n_freq) boolean masks; a set that covers no grid frequency is an error."""
    masks = np.stack([band_mask(frequency, s) for s in band_sets]) if band_sets else None
    if masks is None:
        return np.ones((0, np.asarray(frequency).size), dtype=bool)
    empty = [format_band_set(s) for s, m in zip(band_sets, masks, strict=True) if not m.any()]
    if empty:
        raise InvalidParameterError(
            f"{origin}: {', '.join(empty)} kHz cover no frequency of the grid "
            f"({np.min(frequency) / 1e3:g}-{np.max(frequency) / 1e3:g} kHz)"
        )
    return masks


def nearest_band_set(measured: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Index of the band set whose mask is most like each row of ``measured`` (n, n_freq)
    boolean: the largest Jaccard similarity (shared / either), ties to the first set."""
    m = np.asarray(measured, dtype=np.float32)
    k = np.asarray(masks, dtype=np.float32)
    shared = m @ k.T
    either = m.sum(axis=1, keepdims=True) + k.sum(axis=1)[None, :] - shared
    jaccard = np.divide(shared, either, out=np.zeros_like(shared), where=either > 0)
    return np.argmax(jaccard, axis=1)
