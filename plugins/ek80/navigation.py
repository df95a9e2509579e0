"""Where the vessel was: position and vessel log from a file's NMEA sentences, at ping times.

An EK80 file records each NMEA sentence that reached the PC in an ``NME0`` datagram, time
stamped on arrival (echopype keeps them as ``Platform/NMEA``: ``NMEA_datagram`` over
``nmea_time``). Positions come from ``GGA``, ``RMC`` or ``GLL`` sentences (whichever type
has the most valid fixes; GGA before RMC before GLL on a tie, so that one receiver's fix
does not appear several times with different arrival jitter), the vessel log from ``VLW``
(total cumulative distance through the water, field 1, nautical miles; stored in m).
Sentences are parsed with ``pynmea2`` (echopype's own NMEA parser); a sentence with a bad
checksum, an invalid fix (GGA quality 0, RMC/GLL status V) or empty fields is skipped.

:meth:`Navigation.at` interpolates linearly in time between the neighbouring records
(longitude unwrapped across ±180°) and holds the nearest record outside their span; a
time whose nearest record is more than ``max_gap`` seconds away gets NaN. Times are the
datagrams' (the PC clock, the same clock as the ping times), not the GPS time of day
inside the sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

NAUTICAL_MILE = 1852.0  # m
POSITION_SENTENCES = ("GGA", "RMC", "GLL")


@dataclass(frozen=True)
class Navigation:
    """Position fixes (``fix_time`` ns since 1970, ``latitude``/``longitude`` degrees north
    /east) of one sentence type ``position_sentence`` and log readings (``log_time``,
    ``log`` m)."""

    fix_time: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    log_time: np.ndarray
    log: np.ndarray
    position_sentence: str = ""

    @property
    def has_position(self) -> bool:
        return self.fix_time.size > 0

    @property
    def has_log(self) -> bool:
        return self.log_time.size > 0

    def at(self, times: np.ndarray, max_gap: float) -> dict[str, np.ndarray]:
        """``latitude``, ``longitude`` (degrees) and ``vessel_log`` (m) at ``times``
        (datetime64), NaN where no record lies within ``max_gap`` seconds."""
        t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
        gap_ns = max_gap * 1e9
        lon_unwrapped = np.degrees(np.unwrap(np.radians(self.longitude)))
        lon = interpolate(self.fix_time, lon_unwrapped, t, gap_ns)
        return {
            "latitude": interpolate(self.fix_time, self.latitude, t, gap_ns),
            "longitude": (lon + 180.0) % 360.0 - 180.0,
            "vessel_log": interpolate(self.log_time, self.log, t, gap_ns),
        }

    def describe(self) -> str:
        """One line: what navigation was found."""
        parts = []
        if self.has_position:
            parts.append(f"{self.fix_time.size} {self.position_sentence} position fixes")
        if self.has_log:
            parts.append(f"{self.log_time.size} VLW log readings")
        return ", ".join(parts) or "no navigation (no valid GGA/RMC/GLL or VLW sentence)"


def interpolate(x: np.ndarray, y: np.ndarray, t: np.ndarray, max_gap: float) -> np.ndarray:
    """``y(x)`` at ``t``: linear between neighbours, the nearest value outside the span of
    ``x``, NaN where the nearest ``x`` is farther than ``max_gap`` (same units as x) or
    there is no record. ``x`` is sorted increasing without repeats."""
    out = np.full(t.shape, np.nan)
    if x.size == 0 or t.size == 0:
        return out
    xf, tf = x.astype(float), t.astype(float)
    values = np.interp(tf, xf, y)  # holds the end values outside the span
    i = np.clip(np.searchsorted(xf, tf), 1, max(xf.size - 1, 1))
    nearest = np.minimum(np.abs(tf - xf[i - 1]), np.abs(tf - xf[np.minimum(i, xf.size - 1)]))
    ok = nearest <= max_gap
    out[ok] = values[ok]
    return out


def _unique_sorted(times: list[int], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if t.size else np.zeros(0, bool)
    return t[keep], v[keep]


def _position(msg: object) -> tuple[float, float] | None:
    """(latitude, longitude) of a valid GGA/RMC/GLL message, else None."""
    kind = getattr(msg, "sentence_type", "")
    if kind == "GGA" and str(getattr(msg, "gps_qual", "") or "0") in ("", "0"):
        return None
    if kind in ("RMC", "GLL") and str(getattr(msg, "status", "")).upper() != "A":
        return None
    if not getattr(msg, "lat", "") or not getattr(msg, "lon", ""):
        return None
    try:
        lat, lon = float(msg.latitude), float(msg.longitude)  # type: ignore[attr-defined]
    except (ValueError, TypeError, AttributeError):
        return None
    if not (np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon


def navigation_from_sentences(records: Iterable[tuple[int, str]]) -> Navigation:
    """The :class:`Navigation` of ``records``: (arrival time in ns since 1970, sentence)."""
    import pynmea2

    fixes: dict[str, tuple[list[int], list[float], list[float]]] = {
        k: ([], [], []) for k in POSITION_SENTENCES
    }
    log_t: list[int] = []
    log_v: list[float] = []
    for time_ns, text in records:
        sentence = str(text).strip()
        kind = sentence[3:6] if sentence.startswith("$") else ""
        if kind not in (*POSITION_SENTENCES, "VLW"):
            continue
        try:
            msg = pynmea2.parse(sentence)
        except (pynmea2.ParseError, ValueError, AttributeError, TypeError):
            continue
        if kind == "VLW":
            total = getattr(msg, "trip_distance", None)  # field 1: total cumulative (nmi)
            if total is not None and np.isfinite(float(total)):
                log_t.append(int(time_ns))
                log_v.append(float(total) * NAUTICAL_MILE)
            continue
        pos = _position(msg)
        if pos is not None:
            times, lats, lons = fixes[kind]
            times.append(int(time_ns))
            lats.append(pos[0])
            lons.append(pos[1])
    best = max(POSITION_SENTENCES, key=lambda k: len(fixes[k][0]))  # ties: the first
    times, lats, lons = fixes[best]
    fix_t, lat = _unique_sorted(times, lats)
    _, lon = _unique_sorted(times, lons)
    log_time, log = _unique_sorted(log_t, log_v)
    return Navigation(fix_t, lat, lon, log_time, log, best if fix_t.size else "")


#: NT time (100 ns ticks since 1601-01-01) of the Unix epoch.
NT_UNIX_EPOCH = 116_444_736_000_000_000


def ping_numbers(ping_times: np.ndarray, raw3_nt_times: Iterable[int]) -> np.ndarray:
    """The 0-based number of each of ``ping_times`` (datetime64) among the distinct sample
    datagram (``RAW3``) times of the whole file (NT ticks, e.g. from
    :func:`.datagrams.scan_datagrams`): the ping's index in the file, counting pings
    dropped from a damaged file and pings of channels not read; -1 where no datagram time
    lies within 1 ms."""
    ticks = np.unique(np.fromiter(raw3_nt_times, dtype=np.int64))
    t = np.asarray(ping_times, dtype="datetime64[ns]").astype(np.int64) // 100 + NT_UNIX_EPOCH
    out = np.full(t.shape, -1, dtype=np.int64)
    if ticks.size == 0 or t.size == 0:
        return out
    i = np.clip(np.searchsorted(ticks, t), 1, max(ticks.size - 1, 1))
    left = np.abs(t - ticks[i - 1]) <= np.abs(t - ticks[np.minimum(i, ticks.size - 1)])
    nearest = np.where(left, i - 1, np.minimum(i, ticks.size - 1))
    ok = np.abs(ticks[nearest] - t) <= 10_000  # 1 ms in 100 ns ticks
    out[ok] = nearest[ok]
    return out


def whereabouts(
    targets: list[dict],
    records: Iterable[tuple[int, str]],
    raw3_nt_times: Iterable[int],
    max_gap: float,
) -> tuple[dict[str, np.ndarray], Navigation]:
    """Per target (dicts with ``ping_time``, ``range``, ``angle_alongship``,
    ``angle_athwartship``, ``transducer_depth``): ``depth`` (m, positive down: the
    transducer depth plus the range's vertical component along the beam from the
    split-beam angles, as :func:`ts_toolkit.tracks.positions`), ``latitude``,
    ``longitude`` (degrees), ``vessel_log`` (m) and ``ping_number``; and the navigation
    they came from."""
    from ts_toolkit.tracks import positions

    nav = navigation_from_sentences(records)
    times = np.asarray([t["ping_time"] for t in targets], dtype="datetime64[ns]")
    rng = np.asarray([t["range"] for t in targets], dtype=float)
    along = np.asarray([t["angle_alongship"] for t in targets], dtype=float)
    athwart = np.asarray([t["angle_athwartship"] for t in targets], dtype=float)
    # a single-beam target has no angles: its depth is along the beam axis
    down = positions(rng, np.nan_to_num(along), np.nan_to_num(athwart))[..., 2].reshape(-1)
    transducer = np.asarray([t.get("transducer_depth", np.nan) for t in targets], dtype=float)
    out = {"depth": transducer + down, **nav.at(times, max_gap)}
    out["ping_number"] = ping_numbers(times, raw3_nt_times)
    return out, nav
