"""Merge targets of several channels seen in the same ping at the same range.

Each channel's TS(f) lives on its own band of a common frequency grid (multiples of the
frequency step). Targets of different channels whose ping times differ by at most
``time_tolerance`` (s) and whose ranges differ by at most ``range_tolerance`` (m) are one
target: its spectrum is the union of the bands (NaN in gaps; where bands overlap, the
mean in the linear domain). Angles come from the split-beam member with the smallest
beam compensation. The merged ``channel`` label lists the members in ascending frequency
order (``"ES70+ES120+ES200"``); its ``bottom_range`` is the shallowest of the members'.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _seconds(t: Any) -> float:
    if t is None:
        return 0.0
    return float(np.datetime64(t, "ns").astype("int64")) / 1e9


def merge_targets(
    targets: list[dict[str, Any]], range_tolerance: float = 0.1, time_tolerance: float = 0.5
) -> list[dict[str, Any]]:
    """Group targets (dicts with ``channel``, ``ping_time``, ``range``, ``frequency``,
    ``TS`` ...) and merge each group into one target dict with ``members`` (count)."""
    seconds = [_seconds(t["ping_time"]) for t in targets]
    order = sorted(range(len(targets)), key=lambda i: (seconds[i], targets[i]["range"]))
    used = [False] * len(targets)
    merged: list[dict[str, Any]] = []
    for pos, i in enumerate(order):
        if used[i]:
            continue
        group = [i]
        used[i] = True
        for j in order[pos + 1 :]:
            if seconds[j] - seconds[i] > time_tolerance:
                break  # in time order: every later target is further away (linear, not n²)
            if used[j] or any(targets[j]["channel"] == targets[g]["channel"] for g in group):
                continue
            if abs(targets[j]["range"] - targets[i]["range"]) <= range_tolerance:
                group.append(j)
                used[j] = True
        merged.append(_combine([targets[g] for g in group]))
    return merged


def _lowest_frequency(target: dict[str, Any]) -> float:
    f = np.asarray(target.get("frequency", []), float)
    return float(np.min(f)) if f.size else np.inf


def _combine(group: list[dict[str, Any]]) -> dict[str, Any]:
    group = sorted(group, key=_lowest_frequency)
    if len(group) == 1:
        out = dict(group[0])
        out["members"] = 1
        return out
    freq = np.unique(np.concatenate([t["frequency"] for t in group]))
    lin_sum = np.zeros(freq.size)
    count = np.zeros(freq.size)
    for t in group:
        idx = np.searchsorted(freq, t["frequency"])
        ok = np.isfinite(t["TS"])
        np.add.at(lin_sum, idx[ok], 10 ** (t["TS"][ok] / 10))
        np.add.at(count, idx[ok], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = np.where(count > 0, 10 * np.log10(lin_sum / np.maximum(count, 1)), np.nan)
    split = [t for t in group if np.isfinite(t["angle_alongship"])]
    ref = min(split, key=lambda t: t["beam_compensation"]) if split else group[0]
    out = dict(ref)
    bottoms = [float(t.get("bottom_range", np.nan)) for t in group]
    out.update(
        bottom_range=float(np.nanmin(bottoms)) if np.isfinite(bottoms).any() else np.nan,
        frequency=freq,
        TS=ts,
        channel="+".join(str(t["channel"]) for t in group),
        range=float(np.mean([t["range"] for t in group])),
        members=len(group),
    )
    return out
