"""The echopype adapter: with :mod:`.echodata`, the only module that imports echopype.

``read_fm_pings(path)`` opens an EK80 ``.raw`` file with ``echopype.open_raw(path,
sonar_model="EK80")`` (echopype 0.11.1 and 0.12), or takes an ``EchoData`` converted
before, and gathers, for every channel with
complex FM samples, one :class:`~.core.ChannelPing` per ping: sector samples, sample
interval, transmit parameters, filter stages, calibration (table when present) and
environment.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InputFileError

from .calibration import Calibration
from .core import ChannelPing
from .environment import Environment
from .filters import FilterStage

DEFAULT_Z_TRANSDUCER = 75.0  # ohm, Simrad transducers


class NoFmDataError(InputFileError):
    """The file has no FM (broadband) complex channels."""


def echopype_version() -> str:
    import echopype

    return str(getattr(echopype, "__version__", "?"))


_frozen = False


def collect_garbage() -> None:
    """Free the reference cycles left by the previous file (or part of a file).

    echopype's EchoData holds reference cycles: the arrays of the previous file are freed
    only by the cycle collector. Collecting before each ``open_raw`` keeps a worker's peak
    memory at one part's (two 200 MB surveys in a row: 1062 MB peak RSS, 1389 MB without).
    A full collection walks every object of the process (imports of torch, xarray,
    echopype: 350,000 objects, 0.32 s CPU per call measured, four calls per 200 MB
    survey), so the first call also moves the objects alive then to the collector's
    permanent generation (:func:`gc.freeze`): the modules and a loaded model are not
    walked again, and later calls look only at what was made since (the cycles of the
    previous part among them)."""
    global _frozen
    gc.collect()
    if not _frozen:
        gc.freeze()
        _frozen = True


def open_echodata(path: str | Path, **open_kwargs: Any) -> Any:
    """``echopype.open_raw`` with its chatter silenced; errors become InputFileError."""
    import echopype

    p = Path(path)
    collect_garbage()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.getLogger("echopype").setLevel(logging.ERROR)
            return echopype.open_raw(str(p), sonar_model="EK80", **open_kwargs)
    except Exception as exc:  # echopype raises many kinds on bad input
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputFileError(f"corrupt or truncated EK80 file {p}: echopype: {msg}") from exc


def _beam_groups(ed: Any) -> Iterator[Any]:
    for name in getattr(ed, "group_paths", []):
        if "Beam_group" in name:
            ds = ed[name]
            if ds is not None and "backscatter_i" in ds:
                yield ds


def _value(ds: Any, name: str, channel: str, default: float) -> float:
    if name not in ds:
        return default
    v = ds[name]
    if "channel" in v.dims:
        v = v.sel(channel=channel)
    arr = np.asarray(v.values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    return float(arr[0]) if arr.size else default


def _stage(vend: Any, prefix: str, channel: str) -> FilterStage | None:
    names = (f"{prefix}_coeffs_real", f"{prefix}_coeffs_imag", f"{prefix}_deci_fac")
    if not all(n in vend for n in names):
        return None
    sel = vend.sel(channel=channel)
    real = np.asarray(sel[names[0]].values, float)
    imag = np.asarray(sel[names[1]].values, float)
    deci = np.asarray(sel[names[2]].values, float).ravel()
    if real.ndim > 1:  # (filter_time, n): the first filter set
        if real.shape[0] == 0:  # no FIL1 datagram in the file
            return None
        real, imag = real[0], imag[0]
    ok = np.isfinite(real) & np.isfinite(imag)
    deci = deci[np.isfinite(deci)]
    if not ok.any() or deci.size == 0:
        return None
    return FilterStage(real[ok] + 1j * imag[ok], int(deci[0]))


def _calibration(beam: Any, vend: Any, channel: str, duration: float) -> Calibration:
    f_nom = _value(beam, "frequency_nominal", channel, np.nan)
    gain = np.nan
    if "gain_correction" in vend and "pulse_length" in vend:
        g = np.asarray(vend["gain_correction"].sel(channel=channel).values, float)
        pl = np.asarray(vend["pulse_length"].sel(channel=channel).values, float)
        ok = np.isfinite(g) & np.isfinite(pl)
        if ok.any():
            gain = float(g[ok][np.argmin(np.abs(pl[ok] - duration))])
    table = None
    if "cal_channel_id" in vend.dims or "cal_channel_id" in vend.coords:
        ids = [str(c) for c in np.asarray(vend["cal_channel_id"].values).ravel()]
        if channel in ids and "cal_frequency" in vend.coords:
            sel = vend.sel(cal_channel_id=channel)
            names = {
                "gain": "gain",
                "beamwidth_alongship": "beamwidth_along",
                "beamwidth_athwartship": "beamwidth_athwart",
                "angle_offset_alongship": "offset_along",
                "angle_offset_athwartship": "offset_athwart",
            }
            table = {"frequency": np.asarray(vend["cal_frequency"].values, float)}
            for src, dst in names.items():
                if src in sel:
                    table[dst] = np.asarray(sel[src].values, float)
    if not np.isfinite(gain) and table is None:
        raise InputFileError(
            f"channel {channel}: no gain for a {duration * 1e3:g} ms pulse and no calibration table"
        )
    z_trd = DEFAULT_Z_TRANSDUCER
    z_rx = _value(vend, "impedance_transceiver", channel, 1000.0)
    return Calibration(
        frequency_nominal=f_nom,
        gain=gain,
        beamwidth_along=_value(beam, "beamwidth_twoway_alongship", channel, np.nan),
        beamwidth_athwart=_value(beam, "beamwidth_twoway_athwartship", channel, np.nan),
        offset_along=_value(beam, "angle_offset_alongship", channel, 0.0),
        offset_athwart=_value(beam, "angle_offset_athwartship", channel, 0.0),
        sensitivity_along=_value(beam, "angle_sensitivity_alongship", channel, 0.0),
        sensitivity_athwart=_value(beam, "angle_sensitivity_athwartship", channel, 0.0),
        z_transducer=z_trd,
        z_receiver=z_rx,
        table=table,
    )


def _environment(ed: Any) -> Environment:
    env = ed["Environment"]

    def get(name: str, default: float) -> float:
        if env is None or name not in env:
            return default
        arr = np.asarray(env[name].values, float).ravel()
        arr = arr[np.isfinite(arr)]
        return float(arr[0]) if arr.size else default

    return Environment(
        sound_speed=get("sound_speed_indicative", 1500.0),
        temperature=get("temperature", 10.0),
        salinity=get("salinity", 35.0),
        depth=get("depth", 0.0),
        acidity=get("acidity", 8.0),
    )


def transducer_depths(ed: Any, channel: str, ping_times: np.ndarray) -> np.ndarray:
    """Depth (m, positive down) of ``channel``'s transducer below the water surface at
    ``ping_times``, as echopype's ``consolidate.add_depth(use_platform_vertical_offsets=
    True)`` computes it from the Platform group: ``transducer_offset_z - (water_level +
    vertical_offset)``. echopype reads ``transducer_offset_z`` from the configuration's
    ``TransducerOffsetZ`` (the transducer below the vessel's reference point, z down),
    ``water_level`` from the Environment's ``WaterLevelDraft`` (the water line below the
    reference point, z down) and ``vertical_offset`` from the MRU0 heave (nearest record
    in time; taken as 0 where the file has none). The transducer is taken to point
    straight down (its mounting angles, the drop keel offset and pitch/roll are not
    applied). NaN when the file records no offset or water level."""
    plat = ed["Platform"] if "Platform" in getattr(ed, "group_paths", ()) else None
    n = np.asarray(ping_times).size
    if plat is None or "transducer_offset_z" not in plat or "water_level" not in plat:
        return np.full(n, np.nan)
    z = plat["transducer_offset_z"]
    if "channel" in z.dims:
        if channel not in [str(c) for c in z["channel"].values]:
            return np.full(n, np.nan)
        z = z.sel(channel=channel)
    offset = float(np.asarray(z.values, float).ravel()[0])
    level = float(np.asarray(plat["water_level"].values, float).ravel()[0])
    heave = np.zeros(n)
    if "vertical_offset" in plat and "time2" in plat["vertical_offset"].dims:
        vo = np.asarray(plat["vertical_offset"].values, float)
        t2 = np.asarray(plat["time2"].values, dtype="datetime64[ns]").astype(np.int64)
        ok = np.isfinite(vo) & (t2 > np.iinfo(np.int64).min)
        if ok.any():
            t = np.asarray(ping_times, dtype="datetime64[ns]").astype(np.int64)
            tv, vv = t2[ok], vo[ok]
            order = np.argsort(tv)
            tv, vv = tv[order], vv[order]
            i = np.clip(np.searchsorted(tv, t), 1, max(tv.size - 1, 1))
            left = np.abs(t - tv[i - 1]) <= np.abs(t - tv[np.minimum(i, tv.size - 1)])
            heave = np.where(left, vv[i - 1], vv[np.minimum(i, tv.size - 1)])
    return offset - (level + heave)


def nmea_records(ed: Any) -> list[tuple[int, str]]:
    """Every NMEA sentence echopype kept (``Platform/NMEA``) as (arrival time in ns since
    1970, sentence text)."""
    if "Platform/NMEA" not in getattr(ed, "group_paths", ()):
        return []
    group = ed["Platform/NMEA"]
    if group is None or "NMEA_datagram" not in group:
        return []
    times = np.asarray(group["nmea_time"].values, dtype="datetime64[ns]").astype(np.int64)
    texts = [str(s) for s in np.asarray(group["NMEA_datagram"].values).ravel()]
    return [(int(t), s) for t, s in zip(times, texts, strict=True) if s]


def base_rate(rx_rate: float, decimation: int, sample_interval: float) -> float:
    """The transceiver's base sampling rate (Hz): the file's receiver sampling frequency
    when it agrees (within 0.1 %) with ``decimation / sample_interval`` (the sample
    interval is stored in float32 precision: 64 / 42.6667 µs is 1,499,999 Hz for a
    1.5 MHz WBT), else that ratio rounded to whole Hz."""
    ratio = decimation / sample_interval
    if np.isfinite(rx_rate) and rx_rate > 0 and abs(rx_rate / ratio - 1.0) < 1e-3:
        return float(rx_rate)
    return float(round(ratio))


#: Per-ping transmit values read once per channel (each a 1-D array over ping_time).
PER_PING = (
    "sample_interval",
    "transmit_duration_nominal",
    "transmit_frequency_start",
    "transmit_frequency_stop",
    "slope",
    "transmit_power",
)


def _per_ping(b: Any) -> dict[str, np.ndarray]:
    """The :data:`PER_PING` values of one channel's beam group ``b`` as numpy arrays."""
    return {name: np.asarray(b[name].values).reshape(-1) for name in PER_PING}


def _samples(b: Any, name: str) -> np.ndarray:
    """One channel's ``name`` samples as a numpy array (ping, sample, ...) without a copy
    where echopype's layout allows (one indexing per channel, not one per ping)."""
    da = b[name]
    return np.asarray(da.transpose("ping_time", ...).values)


def _complex_sectors(real: np.ndarray, imag: np.ndarray) -> np.ndarray | None:
    """The complex samples (sector, sample) of one ping from echopype's (sample, sector)
    real and imaginary parts: sectors without any sample dropped, cut after the last sample
    valid in every sector (echopype pads pings to the longest), a sample with a non-finite
    part set to 0. None when no sample is valid."""
    # contiguous (sector, sample) copies: the reductions below over a transposed view
    # took ten times longer (0.1 ms each per ping) than these copies
    re = np.ascontiguousarray(real.reshape(real.shape[0], -1).T)  # sector, sample
    im = np.ascontiguousarray(imag.reshape(imag.shape[0], -1).T)
    finite = np.isfinite(re)
    finite &= np.isfinite(im)
    rows = finite.any(axis=1)
    if not rows.all():
        re, im, finite = re[rows], im[rows], finite[rows]
    valid = finite.all(axis=0) if finite.size else np.zeros(0, bool)
    if not valid.any():
        return None
    n = int(np.flatnonzero(valid)[-1]) + 1
    s = np.empty((re.shape[0], n), dtype=complex)
    s.real, s.imag = re[:, :n], im[:, :n]
    bad = ~finite[:, :n]
    if bad.any():
        s[bad] = 0
    return s


def iter_fm_pings(
    path: str | Path | Any,
    info: dict[str, Any] | None = None,
    channels: list[str] | None = None,
    label: str | Path | None = None,
    **open_kwargs: Any,
) -> Iterator[ChannelPing]:
    """Yield one :class:`ChannelPing` per FM complex ping and channel (optionally only
    ``channels``) of an EK80 ``.raw`` file ``path`` (opened with :func:`open_echodata`; with
    ``use_swap=True`` in ``open_kwargs`` echopype keeps the samples on disk, so memory stays
    bounded on large files) or of an echopype ``EchoData`` given as ``path`` (in memory or
    opened from a ``.zarr``/``.nc`` conversion, see :mod:`.echodata`). ``label`` names the
    input in error messages (default: the path).

    ``info`` (a dict) receives ``echopype_version``, ``channels`` (channel id ->
    calibration source), ``empty_pings`` (FM pings without any finite sample, skipped)
    and ``nmea`` (a set of (time ns, sentence): the file's NMEA sentences, gathered over
    calls). Raises :class:`NoFmDataError` when nothing was yielded.
    """
    if isinstance(path, str | Path):
        p: str | Path = Path(path)
        ed = open_echodata(p, **open_kwargs)
    else:
        p, ed = "EchoData", path
    if label is not None:
        p = label
    info = {} if info is None else info
    vend, env = file_setup(ed, info, p)
    n_yielded = 0
    empty_before = info["empty_pings"]
    for beam, ch in beam_channels(ed, channels):
        for ping in _channel_pings(ed, beam, vend, env, ch, p, info):
            n_yielded += 1
            yield ping
    check_yielded(n_yielded, info["empty_pings"] - empty_before, p)


def file_setup(ed: Any, info: dict[str, Any], p: str | Path) -> tuple[Any, Environment]:
    """(``Vendor_specific`` group, environment) of EchoData ``ed`` (of file ``p``), and
    ``info``'s entries for the file (see :func:`iter_fm_pings`) set up."""
    info.setdefault("channels", {})
    info.setdefault("empty_pings", 0)
    info["echopype_version"] = echopype_version()
    info.setdefault("nmea", set()).update(nmea_records(ed))
    vend = ed["Vendor_specific"]
    if vend is None:
        raise InputFileError(f"{p}: no Vendor_specific group (filters, calibration)")
    return vend, _environment(ed)


def beam_channels(ed: Any, channels: list[str] | None) -> Iterator[tuple[Any, str]]:
    """(beam group, channel id) of every complex channel of ``ed`` (only ``channels`` when
    given), in echopype's order: the order in which the readers yield pings."""
    for beam in _beam_groups(ed):
        if "transmit_type" not in beam:
            continue
        for ch in [str(c) for c in beam["channel"].values]:
            if not channels or ch in channels:
                yield beam, ch


#: Samples (bytes, real and imaginary parts together) loaded at a time from one channel of
#: an EchoData whose arrays are lazy (opened from a ``.zarr`` or ``.nc`` store).
BLOCK_BYTES = 48 << 20


def _load(p: str | Path, what: str, get: Any) -> Any:
    """``get()``; an error while loading (a damaged store: a missing or corrupt chunk)
    becomes a one-line :class:`InputFileError` naming ``p`` and ``what``."""
    try:
        return get()
    except InputFileError:
        raise
    except Exception as exc:  # xarray, zarr, netCDF4 and dask raise many kinds
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputFileError(f"damaged data in {p}: cannot read {what}: {msg}") from exc


class ChannelSetup:
    """What every FM ping of one channel shares: its filter stages, beam type, receiver
    sampling rate and calibration (per pulse duration), from the beam group ``beam`` and
    the ``Vendor_specific`` group ``vend`` of an EchoData; :meth:`ping` makes a
    :class:`ChannelPing` of one ping's samples and transmit values. Used by the echopype
    reader below and by :mod:`.direct`."""

    def __init__(self, beam: Any, vend: Any, env: Environment, channel: str, p: str | Path):
        stages = [s for s in (_stage(vend, "WBT", channel), _stage(vend, "PC", channel)) if s]
        if not stages:
            raise InputFileError(
                f"{p}: channel {channel} has FM samples but no filter coefficients (FIL1 datagrams)"
            )
        self.beam, self.vend, self.env, self.channel = beam, vend, env, channel
        self.stages = stages
        self.beam_type = int(_value(beam, "beam_type", channel, 0))
        self.total_deci = int(np.prod([st.decimation for st in stages]))
        self.rx_rate = _value(vend, "receiver_sampling_frequency", channel, np.nan)
        self._calibrations: dict[float, Calibration] = {}

    def calibration(self, duration: float) -> Calibration:
        """The calibration for a pulse of ``duration`` (s), made once per duration."""
        if duration not in self._calibrations:
            self._calibrations[duration] = _calibration(
                self.beam, self.vend, self.channel, duration
            )
        return self._calibrations[duration]

    def ping(
        self,
        samples: np.ndarray,
        values: dict[str, float],
        sample_offset: int,
        ping_time: Any,
        transducer_depth: float,
        info: dict[str, Any],
    ) -> ChannelPing:
        """One ping: complex ``samples`` (sector, sample), its :data:`PER_PING` ``values``
        (SI), RAW3 sample offset, time and transducer depth (m). Records the calibration's
        source in ``info["channels"]``."""
        dt = float(values["sample_interval"])
        duration = float(values["transmit_duration_nominal"])
        cal = self.calibration(duration)
        info["channels"][self.channel] = cal.source
        return ChannelPing(
            samples=samples,
            sample_interval=dt,
            f_start=float(values["transmit_frequency_start"]),
            f_stop=float(values["transmit_frequency_stop"]),
            duration=duration,
            slope=float(values["slope"]),
            transmit_power=float(values["transmit_power"]),
            fs=base_rate(self.rx_rate, self.total_deci, dt),
            stages=self.stages,
            beam_type=self.beam_type if samples.shape[0] > 1 else 0,
            calibration=cal,
            environment=self.env,
            sample_offset=sample_offset,
            channel=self.channel,
            ping_time=ping_time,
            transducer_depth=transducer_depth,
        )


def is_fm(transmit_type: Any) -> bool:
    """Whether echopype's ``transmit_type`` value (CW, LFM, FMD) names an FM pulse."""
    # str() per value: a zarr-3 store gives numpy's variable-width StringDType, which
    # astype(str) cannot cast
    return "FM" in str(transmit_type).upper()


def check_yielded(n_yielded: int, empty: int, p: str | Path) -> None:
    """Raise when a file gave no FM ping: all of its ``empty`` FM pings lacked samples
    (:class:`InputFileError`), or it has none (:class:`NoFmDataError`)."""
    if n_yielded:
        return
    if empty:
        raise InputFileError(
            f"damaged data in {p}: none of its {empty} FM pings has a finite sample "
            "(lost or empty chunks?)"
        )
    raise NoFmDataError(f"no FM (broadband) channels in {p}: no FM complex data in this file")


def _channel_pings(
    ed: Any,
    beam: Any,
    vend: Any,
    env: Environment,
    ch: str,
    p: str | Path,
    info: dict[str, Any],
) -> Iterator[ChannelPing]:
    """The FM pings of channel ``ch`` of beam group ``beam`` of EchoData ``ed``, loading the
    samples a block of pings at a time (:data:`BLOCK_BYTES`)."""
    b = beam.sel(channel=ch)
    ttype = np.asarray(_load(p, f"channel {ch} transmit_type", lambda: b["transmit_type"].values))
    fm = np.array([is_fm(t) for t in ttype.reshape(-1)], dtype=bool)
    if not fm.any():
        return
    setup = ChannelSetup(beam, vend, env, ch, p)
    per_ping = _load(p, f"channel {ch} transmit parameters", lambda: _per_ping(b))
    offsets = (  # RAW3's sample offset as a time (s), where echopype keeps it
        np.asarray(b["sample_time_offset"].values).reshape(-1)
        if "sample_time_offset" in b
        else None
    )
    times = np.asarray(b["ping_time"].values)
    depths = transducer_depths(ed, ch, times)
    per_ping_bytes = 16 * max(1, int(np.prod(b["backscatter_r"].shape)) // max(1, times.size))
    block = max(1, BLOCK_BYTES // per_ping_bytes)
    for k0 in range(0, times.size, block):
        k1 = min(times.size, k0 + block)
        if not fm[k0:k1].any():
            continue
        part = b.isel(ping_time=slice(k0, k1))
        what = f"channel {ch} samples of pings {k0}-{k1 - 1}"
        real = _load(p, what, lambda part=part: _samples(part, "backscatter_r"))
        imag = _load(p, what, lambda part=part: _samples(part, "backscatter_i"))
        for k in range(k0, k1):
            if not fm[k]:
                continue
            s = _complex_sectors(real[k - k0], imag[k - k0])
            if s is None:
                info["empty_pings"] += 1
                continue
            values = {name: per_ping[name][k] for name in PER_PING}
            offset = 0
            if offsets is not None:
                offset = sample_offset(offsets[k], float(values["sample_interval"]))
            yield setup.ping(s, values, offset, times[k], float(depths[k]), info)


def sample_offset(offset_time: float, sample_interval: float) -> int:
    """RAW3's sample offset (samples) from echopype's ``sample_time_offset`` (s; NaN: 0)."""
    return int(round(float(np.nan_to_num(offset_time)) / sample_interval))


def read_fm_pings(
    path: str | Path, channels: list[str] | None = None, **open_kwargs: Any
) -> tuple[list[ChannelPing], dict[str, Any]]:
    """All FM complex pings of the file as a list, and the metadata dict (see
    :func:`iter_fm_pings`)."""
    info: dict[str, Any] = {}
    pings = list(iter_fm_pings(path, info, channels, **open_kwargs))
    return pings, info
