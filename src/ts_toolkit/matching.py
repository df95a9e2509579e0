"""Matching detected targets to a known truth (synthetic surveys, demo, benchmarks).

Instrument-agnostic: the found targets are a spectra Dataset from any Source, the truth a
Dataset with ``ping_time``, ``range`` and ``TS`` per target (what a Source's
``write_synthetic_survey`` returns).
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def ping_times_us(values: np.ndarray) -> np.ndarray:
    """Ping times as datetime64[us] (from datetime64 or ISO 8601 text, 'Z' allowed)."""
    v = np.asarray(values)
    if v.dtype.kind == "M":
        return v.astype("datetime64[us]")
    return np.array([np.datetime64(str(x).rstrip("Z"), "us") for x in v])


def match_targets(found: xr.Dataset, truth: xr.Dataset, range_tolerance: float = 0.2) -> xr.Dataset:
    """Match detected targets (a spectra Dataset from a Source) to the ground truth.

    A truth target is detected when a found target has the same ping time (to 1 ms) and a
    range within ``range_tolerance`` (m); the nearest in range is taken. Returns, per
    truth target (dim ``target``): ``detected``, ``found_index`` (−1 if not),
    ``range_error`` (m), ``angle_alongship_error`` and ``angle_athwartship_error`` (deg),
    ``ts_median_abs_error`` and ``ts_max_abs_error`` (dB, over the found spectrum's
    frequencies where both are finite; the truth is interpolated to them) and
    ``ts_n_frequencies``. Attribute ``n_unmatched_found``: found targets matching no
    truth target (false detections, e.g. range side lobes).
    """
    n = truth.sizes["target"]
    t_time = ping_times_us(truth["ping_time"].values)
    f_time = ping_times_us(found["ping_time"].values)
    t_range, f_range = truth["range"].values.astype(float), found["range"].values.astype(float)
    out = {
        k: np.full(n, np.nan)
        for k in (
            "range_error",
            "angle_alongship_error",
            "angle_athwartship_error",
            "ts_median_abs_error",
            "ts_max_abs_error",
        )
    }
    index = np.full(n, -1, dtype=np.int64)
    n_freq = np.zeros(n, dtype=np.int64)
    used: set[int] = set()
    freq_t = truth["frequency"].values
    freq_f = found["frequency"].values
    for i in range(n):
        same = np.abs((f_time - t_time[i]) / np.timedelta64(1, "ms")) < 1.0
        cand = np.flatnonzero(same & (np.abs(f_range - t_range[i]) <= range_tolerance))
        if cand.size == 0:
            continue
        j = int(cand[np.argmin(np.abs(f_range[cand] - t_range[i]))])
        index[i] = j
        used.add(j)
        out["range_error"][i] = f_range[j] - t_range[i]
        for name in ("angle_alongship", "angle_athwartship"):
            if name in found and name in truth:
                out[f"{name}_error"][i] = float(found[name].values[j] - truth[name].values[i])
        ts_f = found["TS"].values[j].astype(float)
        ts_t = np.interp(
            freq_f, freq_t, truth["TS"].values[i].astype(float), left=np.nan, right=np.nan
        )
        err = np.abs(ts_f - ts_t)
        ok = np.isfinite(err)
        n_freq[i] = int(ok.sum())
        if ok.any():
            out["ts_median_abs_error"][i] = float(np.median(err[ok]))
            out["ts_max_abs_error"][i] = float(np.max(err[ok]))
    units = {
        "range_error": "m",
        "angle_alongship_error": "degree",
        "angle_athwartship_error": "degree",
        "ts_median_abs_error": "dB",
        "ts_max_abs_error": "dB",
    }
    ds = xr.Dataset(
        {
            "detected": ("target", index >= 0),
            "found_index": ("target", index),
            "ts_n_frequencies": ("target", n_freq),
            **{k: ("target", v, {"units": units[k]}) for k, v in out.items()},
        },
        coords={"target": truth["target"].values},
        attrs={
            "range_tolerance_m": range_tolerance,
            "n_found": int(found.sizes["target"]),
            "n_unmatched_found": int(found.sizes["target"] - len(used)),
        },
    )
    for name in ("kind", "range"):
        if name in truth:
            ds[f"truth_{name}"] = ("target", truth[name].values)
    return ds


def score_tracks(
    found: xr.Dataset, truth: xr.Dataset, range_tolerance: float = 0.2
) -> dict[str, int]:
    """How well found tracks (``found["track"]``, -1: none) follow the true animals
    (``truth["track"]``), matching detections to truth targets as :func:`match_targets`.

    Returns counts: ``fish`` (true tracks), ``recovered`` (every echo of the fish detected
    and all of them in one found track that holds nothing else), ``split`` (a fish's
    detections in two or more found tracks), ``merged`` (found tracks holding detections of
    two or more fish), ``untracked_echoes`` (detected echoes in no track), ``missed_echoes``
    (true echoes not detected), ``found_tracks``.
    """
    match = match_targets(found, truth, range_tolerance)
    index = match["found_index"].values
    true_track = truth["track"].values.astype(int)
    found_track = found["track"].values.astype(int)
    label = np.where(index >= 0, found_track[np.maximum(index, 0)], -2)  # -2: not detected
    fish = np.unique(true_track)
    owners: dict[int, set[int]] = {}
    for f, lab in zip(true_track, label, strict=True):
        if lab >= 0:
            owners.setdefault(int(lab), set()).add(int(f))
    merged = {lab for lab, fishes in owners.items() if len(fishes) > 1}
    recovered = split = 0
    for f in fish:
        labels = set(label[true_track == f].tolist())
        tracks_of_fish = {lab for lab in labels if lab >= 0}
        split += len(tracks_of_fish) > 1
        whole = labels == tracks_of_fish and len(tracks_of_fish) == 1
        recovered += whole and not tracks_of_fish & merged
    return {
        "fish": int(fish.size),
        "recovered": int(recovered),
        "split": int(split),
        "merged": len(merged),
        "untracked_echoes": int((label == -1).sum()),
        "missed_echoes": int((label == -2).sum()),
        "found_tracks": int(np.unique(found_track[found_track >= 0]).size),
    }
