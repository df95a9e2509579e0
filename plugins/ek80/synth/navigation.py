"""Navigation of a synthetic survey: the vessel's track, its NMEA sentences and their truth.

The vessel steams on a straight line at constant speed (``SPEED`` m/s on ``HEADING``
degrees true from ``START_LATITUDE``/``START_LONGITUDE``, latitude and longitude linear in
time). A GPS sends a ``GGA`` fix every ``FIX_INTERVAL`` s and the log a ``VLW`` every
``LOG_INTERVAL`` s, at times that do not coincide with the pings, so a reader has to
interpolate. Each sentence is written (in an ``NME0`` datagram stamped with its time)
before the first ping after it; no sentence follows the last ping, as in a recording, so
the last ping lies beyond the last fix and a reader holds it.

The truth of a ping (:func:`navigation_truth`) is the linear interpolation in time of the
*written* (rounded) values, holding the first/last value outside their span: what a
correct reader must give, to the written precision.

The transducer is installed ``TRANSDUCER_OFFSET_Z`` m below the vessel's reference point,
and the water line is ``WATER_LEVEL_DRAFT`` m below that point (EK80 ``TransducerOffsetZ``
and ``WaterLevelDraft``, z down, as echopype reads them): the transducer face is
``TRANSDUCER_DEPTH`` = 6.5 - 1.5 = 5.0 m below the surface.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from . import raw_format as rf

START_LATITUDE = 60.0  # degrees north
START_LONGITUDE = 5.0  # degrees east
SPEED = 5.0  # m/s over ground (and through the water)
HEADING = 60.0  # degrees true
FIX_INTERVAL = 1.0  # s between GGA fixes
FIX_OFFSET = 0.35  # s after the survey start of the first fix
LOG_INTERVAL = 2.0  # s between VLW sentences
LOG_OFFSET = 0.8  # s
LOG_START = 1234.5  # nmi on the log at the survey start
TRANSDUCER_OFFSET_Z = 6.5  # m below the reference point
WATER_LEVEL_DRAFT = 1.5  # m: the water line below the reference point
TRANSDUCER_DEPTH = TRANSDUCER_OFFSET_Z - WATER_LEVEL_DRAFT

_METRES_PER_DEGREE = 1852.0 * 60.0  # one arc minute of latitude = one nautical mile


def true_track(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude, longitude (degrees) and log (nmi) ``seconds`` after the survey start."""
    s = np.asarray(seconds, dtype=float)
    north = SPEED * np.cos(np.radians(HEADING)) * s
    east = SPEED * np.sin(np.radians(HEADING)) * s
    lat = START_LATITUDE + north / _METRES_PER_DEGREE
    lon = START_LONGITUDE + east / (_METRES_PER_DEGREE * np.cos(np.radians(START_LATITUDE)))
    return lat, lon, LOG_START + SPEED * s / 1852.0


def _ddmm(value: float, degree_digits: int) -> tuple[str, float]:
    """NMEA ``(d)ddmm.mmmmmm`` text of ``|value|`` degrees and the value it encodes."""
    v = abs(value)
    degrees = int(v)
    minutes = round((v - degrees) * 60.0, 6)
    if minutes >= 60.0:
        degrees, minutes = degrees + 1, 0.0
    text = f"{degrees:0{degree_digits}d}{minutes:09.6f}"
    return text, float(np.copysign(degrees + minutes / 60.0, value))


def gga(when: datetime, lat: float, lon: float) -> tuple[str, float, float]:
    """A GGA sentence for a fix at ``when`` and the latitude/longitude it encodes."""
    lat_text, lat_written = _ddmm(lat, 2)
    lon_text, lon_written = _ddmm(lon, 3)
    body = (
        f"GPGGA,{when:%H%M%S}.{when.microsecond // 10000:02d},{lat_text},"
        f"{'N' if lat >= 0 else 'S'},{lon_text},{'E' if lon >= 0 else 'W'},"
        "1,10,0.9,0.0,M,45.0,M,,"
    )
    return rf.nmea_sentence(body), lat_written, lon_written


def vlw(log_nmi: float) -> tuple[str, float]:
    """A VLW sentence (total and trip distance through the water, nmi) and the total it
    encodes."""
    text = f"{log_nmi:.3f}"
    return rf.nmea_sentence(f"SDVLW,{text},N,{text},N"), float(text)


def nav_records(
    start: datetime, end: datetime
) -> list[tuple[datetime, str, str, tuple[float, ...]]]:
    """Every sentence sent from ``start`` to ``end``, in time order: (time, kind ``GGA``
    or ``VLW``, sentence, written values)."""
    span = (end - start).total_seconds()
    out: list[tuple[datetime, str, str, tuple[float, ...]]] = []
    for kind, offset, step in (
        ("GGA", FIX_OFFSET, FIX_INTERVAL),
        ("VLW", LOG_OFFSET, LOG_INTERVAL),
    ):
        for s in np.arange(offset, span + 1e-9, step):
            when = start + timedelta(seconds=float(s))
            lat, lon, log = (float(x) for x in true_track(np.array(s)))
            if kind == "GGA":
                sentence, lat_w, lon_w = gga(when, lat, lon)
                out.append((when, kind, sentence, (lat_w, lon_w)))
            else:
                sentence, log_w = vlw(log)
                out.append((when, kind, sentence, (log_w,)))
    out.sort(key=lambda r: r[0])
    return out


def navigation_truth(
    start: datetime, end: datetime, ping_times: list[datetime]
) -> dict[str, np.ndarray]:
    """``latitude``, ``longitude`` (degrees) and ``vessel_log`` (m) at ``ping_times``: the
    written values of :func:`nav_records` interpolated linearly in time (held outside
    their span)."""
    records = nav_records(start, end)
    t = np.array([(p - start).total_seconds() for p in ping_times])

    def series(kind: str, k: int) -> np.ndarray:
        chosen = [r for r in records if r[1] == kind]
        x = np.array([(r[0] - start).total_seconds() for r in chosen])
        y = np.array([r[3][k] for r in chosen])
        return np.interp(t, x, y) if x.size else np.full(t.shape, np.nan)

    return {
        "latitude": series("GGA", 0),
        "longitude": series("GGA", 1),
        "vessel_log": series("VLW", 0) * 1852.0,
    }
