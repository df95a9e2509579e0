"""Tracks in a batch: each file's targets followed through its pings, classified per track,
and the tracks of all files combined into one table.

A worker tracks the targets of its file (:func:`ts_toolkit.tracks.track_targets`: per
channel, within the file), predicts on every target and on every track's averaged TS(f),
and adds the per-ping consensus of each track (:func:`ts_toolkit.tracks.add_ping_consensus`).
Track numbers start at 0 in every file; :func:`renumber` makes them unique over the
batch when the files are combined, so a target's ``track`` names a row of the tracks table.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
import xarray as xr

from .tracks import NO_TRACK, TrackerSettings


def tracker_options(settings: TrackerSettings | None = None) -> dict[str, Any]:
    """The batch option that turns tracking on: the tracker settings as a plain dict (so the
    work folder's manifest records them and a resume with other settings is refused)."""
    return asdict(settings or TrackerSettings())


def track_and_predict(
    model: Any,
    spectra: xr.Dataset,
    settings: dict[str, Any],
    **predict_options: Any,
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """``spectra``'s predictions with each target's ``track`` number, and the predictions
    on each track's averaged TS(f) with the per-ping consensus (None when no target was
    followed over enough pings). ``predict_options`` go to
    :func:`ts_toolkit.apply.predict_spectra`."""
    from .apply import predict_spectra
    from .tracks import add_ping_consensus, track_targets

    tagged, per_track = track_targets(spectra, TrackerSettings(**settings))
    result = predict_spectra(model, tagged, **predict_options)
    if per_track.sizes["target"] == 0:
        return result, None
    track_result = predict_spectra(model, per_track, **predict_options)
    return result, add_ping_consensus(track_result, result)


def untracked(targets: xr.Dataset) -> xr.Dataset:
    """``targets`` with ``track`` = :data:`NO_TRACK` for every target (a file whose source
    gives no positions to track, in a tracked batch)."""
    out = targets.copy()
    n = int(out.sizes["target"])
    out["track"] = ("target", np.full(n, NO_TRACK, dtype=np.int64))
    out["track"].attrs["long_name"] = f"track number ({NO_TRACK}: none)"
    return out


def renumber(targets: xr.Dataset, tracks: xr.Dataset | None, offset: int) -> int:
    """Add ``offset`` to the track numbers of one file's ``targets`` (in place; targets in
    no track keep :data:`NO_TRACK`) and ``tracks``; return the next file's offset."""
    number = targets["track"].values.astype(np.int64)
    attrs = dict(targets["track"].attrs)
    targets["track"] = ("target", np.where(number >= 0, number + offset, NO_TRACK), attrs)
    if tracks is None:
        return offset
    attrs = dict(tracks["track"].attrs)
    tracks["track"] = ("target", tracks["track"].values.astype(np.int64) + offset, attrs)
    return offset + int(tracks.sizes["target"])


def combined_attrs(attrs: dict[str, Any], settings: dict[str, Any], targets: xr.Dataset) -> dict:
    """The tracks table's global attributes: the batch's provenance ``attrs`` with its
    title, the tracker settings and the counts of targets in tracks and in none."""
    track = targets["track"].values
    return {
        **attrs,
        "title": "target tracks of a cruise: TS(f) averaged in the linear domain along "
        "each track, classified",
        "tracker": json.dumps(settings),
        "tracked_targets": int((track != NO_TRACK).sum()),
        "untracked_targets": int((track == NO_TRACK).sum()),
    }
