"""Target tracks: the same animal followed through consecutive pings, and its averaged TS(f).

A fish crossing the beam is detected in several pings, each with a noisy TS(f). Tracking
joins those detections (an alpha-beta tracker in 3-D from range and split-beam angles, with
gating and a minimum track length, as ESP3 and Echoview do), and averaging TS(f) along a
track in the linear domain gives one steadier spectrum per animal.

Works on any spectra Dataset whose targets carry ``ping_time``, ``range`` (m),
``angle_alongship`` and ``angle_athwartship`` (degrees); targets are tracked separately per
``file`` and ``channel`` when those variables exist.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from .errors import InvalidParameterError
from .matching import ping_times_us
from .spectra import make_spectra

#: Per-target variables a spectra Dataset needs for tracking.
TRACK_INPUTS = ("ping_time", "range", "angle_alongship", "angle_athwartship")
#: ``track`` value of a detection that is in no track (too short a run, or alone).
NO_TRACK = -1


@dataclass(frozen=True)
class TrackerSettings:
    """Alpha-beta tracker settings.

    ``gate`` (m): largest distance between a track's predicted position and a detection
    joined to it; ``max_speed`` (m/s): gate for a track's second detection (before it has a
    velocity), ``max_speed`` x the time since its first; ``alpha``, ``beta``: position and
    velocity gains (0-1); ``max_missed``: pings a track may skip before it ends;
    ``min_length``: detections a track needs to be kept (shorter runs get no track).
    """

    gate: float = 0.3
    max_speed: float = 0.5
    alpha: float = 0.7
    beta: float = 0.3
    max_missed: int = 1
    min_length: int = 3

    def __post_init__(self) -> None:
        for name in ("gate", "max_speed"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InvalidParameterError(f"tracker {name} must be > 0, got {value!r}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise InvalidParameterError(f"tracker {name} must be in (0, 1], got {value!r}")
        if self.max_missed < 0 or self.min_length < 1:
            raise InvalidParameterError(
                f"tracker max_missed must be >= 0 and min_length >= 1, got "
                f"{self.max_missed} and {self.min_length}"
            )


def positions(range_m: np.ndarray, along_deg: np.ndarray, athwart_deg: np.ndarray) -> np.ndarray:
    """Cartesian positions (n, 3) in m from range and split-beam angles: x fore, y
    starboard, z down the beam axis."""
    sa, st = np.sin(np.radians(along_deg)), np.sin(np.radians(athwart_deg))
    down = np.sqrt(np.clip(1.0 - sa**2 - st**2, 0.0, 1.0))
    return np.stack([range_m * sa, range_m * st, range_m * down], axis=-1)


@dataclass
class _Track:
    members: list[int]
    position: np.ndarray
    velocity: np.ndarray | None
    last_time: float


def _track_group(
    xyz: np.ndarray, t: np.ndarray, settings: TrackerSettings, ping_interval: float
) -> list[list[int]]:
    """Tracks (lists of indices into ``xyz``) of one group of detections; ``t`` and
    ``ping_interval`` in s. A track ends when more than ``max_missed`` pings (by time, with
    25 % slack for jitter) pass without a detection joined to it."""
    longest_gap = (settings.max_missed + 1) * ping_interval * 1.25
    active: list[_Track] = []
    finished: list[_Track] = []
    for now in np.unique(t):
        finished += [tr for tr in active if now - tr.last_time > longest_gap]
        active = [tr for tr in active if now - tr.last_time <= longest_gap]
        here = np.flatnonzero(t == now)
        cost = np.full((len(active), here.size), np.inf)
        for k, track in enumerate(active):
            dt = now - track.last_time
            if track.velocity is None:
                predicted, gate = track.position, settings.max_speed * dt
            else:
                predicted, gate = track.position + track.velocity * dt, settings.gate
            distance = np.linalg.norm(xyz[here] - predicted, axis=1)
            cost[k] = np.where(distance <= gate, distance, np.inf)
        taken: set[int] = set()
        if cost.size and np.isfinite(cost).any():
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
            for k, j in zip(rows, cols, strict=True):
                if not np.isfinite(cost[k, j]):
                    continue
                track, i = active[k], int(here[j])
                dt = now - track.last_time
                measured = xyz[i]
                if track.velocity is None:
                    track.velocity = (measured - track.position) / dt
                    track.position = measured
                else:
                    predicted = track.position + track.velocity * dt
                    residual = measured - predicted
                    track.position = predicted + settings.alpha * residual
                    track.velocity = track.velocity + settings.beta * residual / dt
                track.members.append(i)
                track.last_time = now
                taken.add(j)
        for j, i in enumerate(here):
            if j not in taken:
                active.append(_Track([int(i)], xyz[i].copy(), None, float(now)))
    finished += active
    return [tr.members for tr in finished if len(tr.members) >= settings.min_length]


def _seconds(ping_time: np.ndarray) -> np.ndarray:
    """Ping times (datetime64 or ISO 8601 text) as seconds since the earliest."""
    times = ping_times_us(ping_time)
    return (times - times.min()).astype(np.int64) / 1e6


def assign_tracks(spectra: xr.Dataset, settings: TrackerSettings | None = None) -> np.ndarray:
    """Track number (0, 1, ...) of every target of ``spectra``, :data:`NO_TRACK` for a
    target in no track. Tracks are numbered in the order they start."""
    settings = settings or TrackerSettings()
    missing = [name for name in TRACK_INPUTS if name not in spectra]
    if missing:
        raise InvalidParameterError(
            f"tracking needs per-target {', '.join(missing)}; these spectra do not have them"
        )
    n = int(spectra.sizes["target"])
    track = np.full(n, NO_TRACK, dtype=np.int64)
    if n == 0:
        return track
    xyz = positions(
        spectra["range"].values.astype(float),
        spectra["angle_alongship"].values.astype(float),
        spectra["angle_athwartship"].values.astype(float),
    )
    t = _seconds(spectra["ping_time"].values)
    steps = np.diff(np.unique(t))
    ping_interval = float(steps.min()) if steps.size else 1.0  # the shortest gap: one ping
    keys = [
        tuple(str(spectra[v].values[i]) for v in ("file", "channel") if v in spectra)
        for i in range(n)
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    found: list[list[int]] = []
    for key in sorted(groups):
        idx = np.asarray(groups[key])
        found += [
            [int(idx[m]) for m in members]
            for members in _track_group(xyz[idx], t[idx], settings, ping_interval)
        ]
    for number, members in enumerate(sorted(found, key=lambda m: (t[m[0]], m[0]))):
        track[members] = number
    return track


def linear_mean_db(ts_db: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean in the linear domain (of 10^(TS/10)), back in dB; NaN values are ignored."""
    with np.errstate(invalid="ignore"):
        return 10.0 * np.log10(np.nanmean(10.0 ** (np.asarray(ts_db, float) / 10.0), axis=axis))


def track_spectra(spectra: xr.Dataset, track: np.ndarray) -> xr.Dataset:
    """One spectrum per track: TS(f) averaged in the linear domain over its detections,
    ``TS_spread`` (dB, per frequency: standard deviation of the members' TS), and per
    track the number of pings, first and last ping time (and ping number), mean range and
    angles (and depth, position and vessel log, where the detections have them), and the
    file and channel. The Dataset's ``target`` dimension runs over tracks."""
    numbers = np.unique(track[track != NO_TRACK])
    ts = spectra["TS"].values.astype(float)
    f = spectra["frequency"].values
    mean_ts = np.full((numbers.size, f.size), np.nan)
    spread = np.full((numbers.size, f.size), np.nan)
    per_track: dict[str, list[Any]] = {
        "track": [], "n_pings": [], "ping_time": [], "ping_time_last": [], "range": [],
        "angle_alongship": [], "angle_athwartship": [],
    }  # fmt: skip
    carried = [v for v in ("file", "channel", "ping_number") if v in spectra]
    averaged = [v for v in ("depth", "latitude", "longitude", "vessel_log") if v in spectra]
    for v in (*carried, *averaged):
        per_track[v] = []
    times = spectra["ping_time"].values
    for k, number in enumerate(numbers):
        members = np.flatnonzero(track == number)
        mean_ts[k] = linear_mean_db(ts[members])
        with warnings.catch_warnings():  # a frequency only one member measured: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            spread[k] = np.nanstd(ts[members], axis=0)
        order = members[np.argsort(_seconds(times[members]), kind="stable")]
        per_track["track"].append(int(number))
        per_track["n_pings"].append(int(members.size))
        per_track["ping_time"].append(times[order[0]])
        per_track["ping_time_last"].append(times[order[-1]])
        for v in ("range", "angle_alongship", "angle_athwartship"):
            per_track[v].append(float(np.mean(spectra[v].values[members])))
        for v in carried:
            per_track[v].append(spectra[v].values[order[0]])
        for v in averaged:
            values = spectra[v].values[members].astype(float)
            per_track[v].append(float(np.mean(values)) if np.isfinite(values).all() else np.nan)
    attrs = {
        "title": "target tracks: TS(f) averaged in the linear domain along each track",
        "tracked_targets": int((track != NO_TRACK).sum()),
        "untracked_targets": int((track == NO_TRACK).sum()),
    }
    for key in ("source", "source_file", "calibration"):
        if key in spectra.attrs:
            attrs[key] = spectra.attrs[key]
    columns = {k: np.asarray(v) for k, v in per_track.items()}
    for k in ("ping_time", "ping_time_last", *carried):
        columns[k] = np.asarray(per_track[k], dtype=spectra[k].dtype if k in spectra else object)
    ds = make_spectra(f, mean_ts.astype(spectra["TS"].dtype), attrs=attrs, **columns)
    ds["TS_spread"] = (
        ("target", "frequency"),
        spread.astype(np.float32),
        {"units": "dB", "long_name": "standard deviation of the members' TS (dB) per frequency"},
    )
    ds["n_pings"].attrs["long_name"] = "detections (pings) in the track"
    ds["track"].attrs["long_name"] = "track number"
    ds["ping_time_last"].attrs["long_name"] = "ping time of the track's last detection (UTC)"
    return ds


def track_targets(
    spectra: xr.Dataset, settings: TrackerSettings | None = None
) -> tuple[xr.Dataset, xr.Dataset]:
    """``spectra`` with a per-target ``track`` variable, and the per-track spectra
    (:func:`track_spectra`); the settings used are in both Datasets' attributes."""
    settings = settings or TrackerSettings()
    track = assign_tracks(spectra, settings)
    tagged = spectra.copy()
    tagged["track"] = ("target", track, {"long_name": f"track number ({NO_TRACK}: none)"})
    tracks = track_spectra(spectra, track)
    described = json.dumps(asdict(settings))
    tagged.attrs["tracker"] = described
    tracks.attrs["tracker"] = described
    return tagged, tracks


#: Per-ping predictions summarised per track by :func:`add_ping_consensus`.
CONSENSUS_OF = ("a", "b", "alpha", "Req", "theta")


def add_ping_consensus(track_result: xr.Dataset, per_ping: xr.Dataset) -> xr.Dataset:
    """``track_result`` (one row per track) with the per-ping predictions of each track's
    members summarised: ``majority_pred_kind`` (the kind most members were given; ties go
    to the higher mean probability) and ``median_pred_<name>`` for a, b, alpha, Req (m or
    1) and theta (degrees). ``per_ping`` holds the members' ``track`` and ``pred_*``."""
    out = track_result.copy()
    numbers = out["track"].values
    member_track = per_ping["track"].values
    if "pred_kind" in per_ping:
        kinds = per_ping["pred_kind"].values
        prob = per_ping["pred_probability"].values if "pred_probability" in per_ping else None
        majority = []
        for number in numbers:
            inside = member_track == number
            names, counts = np.unique(kinds[inside], return_counts=True)
            best = names[counts == counts.max()]
            if best.size > 1 and prob is not None:
                best = sorted(best, key=lambda k: -float(np.mean(prob[inside][kinds[inside] == k])))
            majority.append(best[0])
        out["majority_pred_kind"] = (
            "target",
            np.asarray(majority, dtype=object),
            {"long_name": "kind most of the track's pings were given"},
        )
    for name in CONSENSUS_OF:
        if f"pred_{name}" not in per_ping:
            continue
        values = per_ping[f"pred_{name}"].values.astype(float)
        medians = [float(np.nanmedian(values[member_track == n])) for n in numbers]
        attrs = dict(per_ping[f"pred_{name}"].attrs)
        attrs["long_name"] = f"median over the track's pings of the predicted {name}"
        out[f"median_pred_{name}"] = ("target", np.asarray(medians), attrs)
    return out
