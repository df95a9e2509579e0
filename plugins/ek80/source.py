"""The ``ek80`` Source: an EK80 ``.raw`` file, or EK80 data converted by echopype (a ``.zarr``
store, an EchoData ``.nc`` file or an in-memory ``EchoData``) → single targets → spectra
Dataset."""

from __future__ import annotations

import typing
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError, TsToolkitWarning
from ts_toolkit.interfaces import Source, SyntheticSurvey
from ts_toolkit.options import option

from .bottom import BottomSettings
from .core import TsfSettings
from .datagrams import is_ek80
from .detection import DetectionSettings
from .pieces import readable_parts
from .salvage import SalvagePlan, relabel

if TYPE_CHECKING:
    from collections.abc import Callable

    from ts_toolkit.parameters import ParameterSpace

#: Values of the ``sample_reader`` option (see :mod:`.direct`).
SAMPLE_READERS = ("direct", "echopype")

METHOD = (
    "Andersen et al. 2024 (Methods Ecol. Evol. 15:317); Demer et al. 2015 "
    "(ICES CRR 326): ideal tapered chirp, file filter stages, matched filter, "
    "sector average, split-beam angles, single-target detection, windowed DFT / "
    "transmit autocorrelation spectrum, Francois-Garrison absorption"
)


def _prefixed(cls: type, prefix: str) -> list[tuple[str, Any, Any]]:
    """The fields of dataclass ``cls`` renamed ``prefix + name`` (same types, defaults and
    help), for :func:`dataclasses.make_dataclass`."""
    hints = typing.get_type_hints(cls)
    return [
        (prefix + f.name, hints[f.name], field(default=f.default, metadata=f.metadata))
        for f in fields(cls)
    ]


#: The seabed detector's settings as source options ``bottom_<name>`` (e.g. ``bottom_min_sa``).
BottomOptions = make_dataclass("BottomOptions", _prefixed(BottomSettings, "bottom_"), frozen=True)


@dataclass(frozen=True)
class Ek80Options(DetectionSettings, TsfSettings, BottomOptions):
    """Options of the ``ek80`` source: single-target detection (:class:`DetectionSettings`),
    the seabed detector (:class:`.bottom.BottomSettings`, as ``bottom_<name>``), TS(f)
    (:class:`TsfSettings`) and which channels to read."""

    channels: tuple[str, ...] | None = option(None, "Only these channel ids (all: none).")
    single_beam: bool = option(
        False, "Also extract single-beam FM channels (no beam compensation)."
    )
    merge: bool = option(
        True, "Merge targets seen by several channels in the same ping at the same range."
    )
    range_tolerance: float = option(
        0.1, "Range difference within which targets of two channels are merged.", unit="m"
    )
    sample_reader: str = option(
        "direct",
        "How a .raw file's samples are read: 'direct' (from its RAW3 datagrams, echopype "
        "converting only the configuration, navigation and motion) or 'echopype' (the whole "
        "file through echopype.open_raw: about twice the extraction time). Both give the "
        "same targets; 'direct' falls back to 'echopype' for what it does not read.",
    )
    use_swap: bool = option(
        False, "Let echopype keep samples on disk (large files; sample_reader=echopype)."
    )
    calibration: str | None = option(
        None,
        "Calibration file applied instead of the one each .raw file carries: an EK80 "
        "calibration .xml (as `ts-toolkit calibrate` writes) or an Echoview .ecs with FM "
        "gain tables (see docs/calibration.md).",
    )
    nav_max_gap: float = option(
        10.0,
        "Position and vessel log of a ping: NaN when no NMEA record lies within this time.",
        unit="s",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sample_reader not in SAMPLE_READERS:
            raise InvalidParameterError(
                f"sample_reader must be one of {', '.join(SAMPLE_READERS)}, not "
                f"{self.sample_reader!r}"
            )
        if self.calibration:  # a missing or malformed file is an error before any reading
            from .calfile import load_calibration

            load_calibration(self.calibration)

    def detection(self) -> DetectionSettings:
        return DetectionSettings(**_subset(self, DetectionSettings))

    def tsf(self) -> TsfSettings:
        return TsfSettings(**_subset(self, TsfSettings))

    def bottom(self) -> BottomSettings:
        return BottomSettings(
            **{f.name: getattr(self, "bottom_" + f.name) for f in fields(BottomSettings)}
        )


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread. The chain runs many small products (a
    window's DTFT is a 100 x 250 matrix times a vector): on a busy machine OpenBLAS's
    threads made each of them hundreds of times slower (15 ms instead of 25 us measured
    with 2 cores shared), and a worker of a cluster is one thread anyway."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _subset(options: Ek80Options, cls: type) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in fields(cls)}


def bottom_method(det: DetectionSettings) -> str:
    """How the seabed guard of ``det`` finds the seabed (for the output attributes)."""
    from .bottom import METHOD as BOTTOM_METHOD

    mode = det.bottom_sp
    if mode is None:
        return "none (no seabed guard)"
    if isinstance(mode, str):
        return BOTTOM_METHOD
    return f"fixed level (deprecated): first sample with Sp >= {float(mode):g} dB"


def apply_consistent_bottoms(
    pings: list[tuple[str, Any]], det: DetectionSettings, bottom: Any
) -> dict[str, dict[str, Any]]:
    """Make each channel's seabed consistent over its pings (running median, see
    :func:`.bottom.consistent_bottoms`) and re-apply the bottom guard where a ping's seabed
    changed. ``pings``: (channel, :class:`.core.PingResult`) in file order, changed in
    place. Returns a per-channel summary (pings, pings with a seabed, changed pings,
    median/min/max seabed range in m)."""
    from .bottom import consistent_bottoms, keep_above

    summary: dict[str, dict[str, Any]] = {}
    for channel in dict.fromkeys(ch for ch, _ in pings):
        results = [r for ch, r in pings if ch == channel]
        raw = np.array([r.bottom for r in results], dtype=float)
        auto = all(r.seabed is not None for r in results)
        final = consistent_bottoms(raw, bottom.median_pings, bottom.max_jump) if auto else raw
        changed = 0
        for r, old, new in zip(results, raw, final, strict=True):
            if np.isnan(old) and np.isnan(new) or old == new:
                continue
            changed += 1
            kept, below = keep_above(r.targets + r.below_bottom, new, det.bottom_margin)
            for t in kept + below:
                t["bottom_range"] = float(new)
            kept.sort(key=lambda t: t["range"])
            r.counts["accepted"] += len(kept) - len(r.targets)
            r.counts["below_bottom"] = len(below)
            r.targets, r.below_bottom, r.bottom = kept, below, float(new)
        found = final[np.isfinite(final)]
        summary[channel] = {
            "pings": int(final.size),
            "pings_with_seabed": int(found.size),
            "changed_by_running_median": changed,
            "median_range_m": round(float(np.median(found)), 3) if found.size else None,
            "min_range_m": round(float(found.min()), 3) if found.size else None,
            "max_range_m": round(float(found.max()), 3) if found.size else None,
        }
    return summary


TRANSDUCER_DEPTH_METHOD = (
    "transducer depth = TransducerOffsetZ - (WaterLevelDraft + heave) from the file (echopype "
    "Platform transducer_offset_z - (water_level + vertical_offset)); target depth = "
    "transducer depth + range * sqrt(1 - sin2(alongship) - sin2(athwartship)), transducer "
    "pointing straight down"
)

#: Transducers of the synthetic survey that :meth:`Ek80Source.write_synthetic_survey` writes.
SYNTHETIC_CHANNELS = "70,120,200"


class Ek80Source(Source):
    """Simrad EK80 .raw (FM, complex samples) via echopype: single targets and their TS(f).

    Also reads EK80 data converted by echopype (``open_raw(..., sonar_model="EK80")``):
    a ``.zarr`` store (a directory), an EchoData ``.nc`` file and, from Python, an
    ``EchoData`` object; their pings go through the same chain (see :mod:`.echodata`)."""

    name: ClassVar[str] = "ek80"
    suffixes: ClassVar[tuple[str, ...]] = (".raw", ".zarr", ".nc")
    Options: ClassVar[type] = Ek80Options
    writes_synthetic_surveys: ClassVar[bool] = True

    def can_open(self, path: str | Path) -> bool:
        """True for a file that starts with an EK80 ``XML0`` datagram, or an echopype
        ``.zarr`` store / EchoData ``.nc`` file whose ``sonar_model`` is EK80 (no echopype
        import)."""
        from .echodata import is_ek80_netcdf, is_ek80_zarr

        p = Path(path)
        if p.is_dir():
            return is_ek80_zarr(p)
        if not p.is_file():
            return False
        return is_ek80(p) or is_ek80_netcdf(p)

    def can_open_object(self, obj: Any) -> bool:
        """True for an echopype ``EchoData`` whose ``sonar_model`` is EK80."""
        from .echodata import SONAR_MODEL, is_echodata, sonar_model

        return is_echodata(obj) and sonar_model(obj) == SONAR_MODEL

    def _open_object(self, obj: Any, options: Ek80Options) -> Any:
        """The targets of an in-memory ``EchoData`` (see :meth:`_open_echodata`)."""
        from .echodata import is_echodata, source_label

        if not is_echodata(obj):
            raise InputFileError(
                f"the ek80 source reads an echopype EchoData object, not a {type(obj).__name__}"
            )
        label = source_label(obj)
        return self._open_echodata(obj, Path(label), f"EchoData (from {label})", options)

    def _open(self, path: Path, options: Ek80Options) -> Any:
        """Detect single targets in every FM split-beam channel and return their TS(f).

        A damaged file (cut by a power loss, a corrupt datagram) gives every complete ping
        and records what was lost in the attributes ``warnings``, ``pings_read``,
        ``pings_dropped`` and ``bytes_unreadable`` (see :mod:`.salvage`); a large file is
        read in parts of whole pings (:mod:`.pieces`)."""
        from ts_toolkit.spectra import to_attr

        p = path
        if p.is_dir() or (p.is_file() and not is_ek80(p) and p.suffix.lower() == ".nc"):
            return self._open_converted(p, options)
        if not p.is_file():
            raise InputFileError(f"file not found: {p}")
        if not is_ek80(p):
            raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
        det, tsf = _settings(options)
        with readable_parts(p) as (parts, plan), one_blas_thread():
            direct = None
            if options.sample_reader == "direct" and not options.use_swap:
                from .direct import DirectRead

                direct = DirectRead.prepare(p, plan)
            ds = self._extract(p, iter([direct]) if direct else parts, plan, det, tsf, options)
        ds.attrs["sample_reader"] = (
            "direct (RAW3 datagrams; echopype for the configuration)" if direct else "echopype"
        )
        warning = plan.warning()
        ds.attrs["warnings"] = to_attr([warning] if warning else [])
        ds.attrs["pings_read"] = plan.kept_pings
        ds.attrs["pings_dropped"] = len(plan.incomplete)
        ds.attrs["bytes_unreadable"] = plan.bytes_lost
        return ds

    def _open_converted(self, path: Path, options: Ek80Options) -> Any:
        """The targets of a ``.zarr`` store or EchoData ``.nc`` file written by echopype."""
        from .echodata import (
            is_ek80_netcdf,
            is_ek80_zarr,
            netcdf_sonar_model,
            open_converted,
            zarr_sonar_model,
        )

        ok = is_ek80_zarr(path) if path.is_dir() else is_ek80_netcdf(path)
        if not ok:
            model = zarr_sonar_model(path) if path.is_dir() else netcdf_sonar_model(path)
            if model is None:
                raise InputFileError(
                    f"{path} is neither an EK80 .raw file nor echopype output (a .zarr store "
                    "or .nc file with a Sonar group)"
                )
            raise InputFileError(
                f"{path}: echopype data of a {model} sonar; the ek80 source reads only EK80 "
                "data (sonar_model EK80)"
            )
        ed = open_converted(path)
        return self._open_echodata(ed, path, str(path), options)

    def _open_echodata(self, ed: Any, path: Path, label: str, options: Ek80Options) -> Any:
        """The targets of EchoData ``ed`` (named ``path`` in the outputs, ``label`` in
        errors): every FM ping through the same chain as a ``.raw`` file's. A converted file
        has no datagrams to salvage: ``pings_dropped`` and ``bytes_unreadable`` are 0, and an
        FM ping without any finite sample (a chunk lost from a store) is counted in a
        warning."""
        from ts_toolkit.spectra import to_attr

        from .echodata import check_ek80

        check_ek80(ed, label)
        det, tsf = _settings(options)
        info: dict[str, Any] = {}
        times = _ping_times(ed)
        with one_blas_thread():
            ds = self._extract(
                path, iter([ed]), None, det, tsf, options, info, label, _nt_ticks(times)
            )
        empty = info.get("empty_pings", 0)
        warning = (
            f"{label}: {empty} FM ping{'s' if empty != 1 else ''} without any sample "
            "skipped (lost or empty chunks?)"
            if empty
            else None
        )
        ds.attrs["warnings"] = to_attr([warning] if warning else [])
        ds.attrs["pings_read"] = int(times.size)
        ds.attrs["pings_dropped"] = 0
        ds.attrs["bytes_unreadable"] = 0
        ds.attrs["source_file"] = label
        ds.attrs["source_format"] = "echopype EchoData"
        return ds

    def _extract(
        self,
        p: Path,
        parts: Iterator[Any],
        plan: SalvagePlan | None,
        det: DetectionSettings,
        tsf: TsfSettings,
        options: Ek80Options,
        info: dict[str, Any] | None = None,
        label: str | None = None,
        ping_ticks: np.ndarray | None = None,
    ) -> Any:
        """The spectra Dataset of file ``p`` read as ``parts`` (see :mod:`.pieces`; or one
        ``EchoData`` named ``label`` in errors, its ping times ``ping_ticks`` in NT ticks
        numbering the pings): the same targets, in the same order, as from one read of the
        whole file."""
        from .core import PingResult, Replica, process_ping
        from .direct import DirectRead
        from .merge import merge_targets
        from .navigation import whereabouts
        from .reader import NoFmDataError, iter_fm_pings

        info = {} if info is None else info
        skipped: set[str] = set()
        targets: list[dict[str, Any]] = []
        grids: list[np.ndarray] = []
        replicas: dict[tuple[Any, ...], Replica] = {}
        counts: dict[str, int] = {}
        used: set[str] = set()
        rank: dict[str, int] = {}  # channels in the order the reader gives them
        no_fm: list[InputFileError] = []
        n_parts = 0
        pings: list[tuple[str, PingResult]] = []
        channels = list(options.channels) if options.channels else None
        calset = None
        if options.calibration:
            from .calfile import load_calibration

            calset = load_calibration(options.calibration)
        open_kwargs = {"use_swap": True} if options.use_swap else {}
        bottom = options.bottom()
        for part in parts:
            n_parts += 1
            try:
                pings_of_part = (
                    part.fm_pings(info, channels, label)
                    if isinstance(part, DirectRead)
                    else iter_fm_pings(part, info, channels, label, **open_kwargs)
                )
                for ping in pings_of_part:
                    rank.setdefault(ping.channel, len(rank))
                    if calset is not None:
                        ping = calset.apply(ping)
                        if ping.channel in calset.matched:
                            info["channels"][ping.channel] = calset.label
                    if not options.single_beam and (ping.beam_type == 0 or ping.n_sectors < 3):
                        skipped.add(ping.channel)
                        continue
                    used.add(ping.channel)
                    key = (
                        ping.channel,
                        ping.f_start,
                        ping.f_stop,
                        ping.duration,
                        ping.slope,
                        ping.sample_interval,
                    )
                    try:
                        if key not in replicas:
                            replicas[key] = Replica.build(ping)
                        result: PingResult = process_ping(ping, det, tsf, replicas[key], bottom)
                    except (ValueError, IndexError) as exc:
                        raise InputFileError(
                            f"{label or p}: channel {ping.channel}, ping {ping.ping_time}: "
                            f"cannot process: {exc}"
                        ) from exc
                    grids.append(result.frequency)
                    for t in result.targets + result.below_bottom:
                        t.update(
                            channel=ping.channel,
                            ping_time=ping.ping_time,
                            frequency=result.frequency,
                            transducer_depth=ping.transducer_depth,
                        )
                    # keep what the consistency step needs, not the per-sample profiles
                    pings.append((ping.channel, _light(result)))
            except NoFmDataError as exc:  # this part has none; another may
                no_fm.append(relabel(exc, _file_of(part), p, plan) if plan else exc)
            except InputFileError as exc:
                raise (relabel(exc, _file_of(part), p, plan) if plan else exc) from exc
        if no_fm and len(no_fm) == n_parts:
            raise no_fm[0]
        if not used:
            raise InputFileError(
                f"no split-beam FM channels in {label or p} (single-beam FM channels: "
                f"{', '.join(sorted(skipped))}; use -O single_beam=true to extract them "
                "without beam compensation)"
            )
        info["channels"] = {k: v for k, v in info["channels"].items() if k in used}
        if calset is not None:
            calset.check_matched(list(used), str(label or p))
            info["calibration_file"] = calset.describe()
        info["bottom_summary"] = apply_consistent_bottoms(pings, det, bottom)
        for _, result in pings:
            targets.extend(result.targets)
            for k, v in result.counts.items():
                counts[k] = counts.get(k, 0) + v
        # one part reads channel after channel; parts read ping after ping: channels first
        targets.sort(key=lambda t: rank[t["channel"]])
        info["bottom_settings"] = asdict(bottom)
        if options.merge:
            targets = merge_targets(targets, options.range_tolerance)
        else:
            for t in targets:
                t["members"] = 1
        raw3_times = (
            (f.time for f in plan.scan.frames if f.kind == "RAW3")
            if plan is not None
            else ping_ticks
            if ping_ticks is not None
            else ()
        )
        where, nav = whereabouts(targets, info.get("nmea", ()), raw3_times, options.nav_max_gap)
        info["navigation"] = nav.describe()
        info["notes"] = navigation_notes(p, nav, where)
        for i, t in enumerate(targets):
            t.update({k: v[i] for k, v in where.items()})
        return build_spectra(p, targets, grids, det, tsf, info, counts, sorted(skipped))

    def write_synthetic_survey(
        self,
        out: Path,
        truth: Path,
        n_targets: int,
        seed: int,
        *,
        simulator: str,
        space: ParameterSpace | None = None,
        noise_db: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> SyntheticSurvey:
        """An EK80 FM survey (ES70-7C, ES120-7C, ES200-7C: 45-260 kHz; one target per
        ping) with ``n_targets`` targets drawn from ``space``: the ``.raw`` file ``out`` and
        its truth ``truth`` (NetCDF, a CSV beside it); see :func:`.synth.make_survey`."""
        import xarray as xr

        from .synth import make_survey, write_raw, write_truth

        survey = make_survey(
            n_targets,
            seed,
            channels=SYNTHETIC_CHANNELS,
            simulator=simulator,
            space=space,
            noise_db=noise_db,
            progress=progress,
        )
        write_raw(survey, out)
        truth_nc, _ = write_truth(survey, truth, truth.with_suffix(".csv"), raw_file=out)
        bands = ", ".join(
            f"{c.model.name} {c.model.f_start / 1e3:g}-{c.model.f_stop / 1e3:g} kHz"
            for c in survey.settings.channels
        )
        return SyntheticSurvey(out, xr.load_dataset(truth_nc), f"EK80 FM survey: {bands}")


def _settings(options: Ek80Options) -> tuple[DetectionSettings, TsfSettings]:
    """The detection and TS(f) settings of ``options``, warning on a deprecated one."""
    det, tsf = options.detection(), options.tsf()
    if det.bottom_sp is not None and not isinstance(det.bottom_sp, str):
        warnings.warn(
            f"bottom_sp={det.bottom_sp:g} is deprecated: it forces the old fixed-level "
            "seabed guard; the seabed is now detected per ping (bottom_sp=auto)",
            TsToolkitWarning,
            stacklevel=3,
        )
    return det, tsf


def _ping_times(ed: Any) -> np.ndarray:
    """The distinct ping times (datetime64[ns], sorted) over the beam groups of EchoData
    ``ed``: a ``.raw`` file's ``RAW3`` datagram times, as echopype keeps them."""
    times = [
        np.asarray(ed[name]["ping_time"].values, dtype="datetime64[ns]")
        for name in getattr(ed, "group_paths", [])
        if "Beam_group" in name and ed[name] is not None and "ping_time" in ed[name].dims
    ]
    return np.unique(np.concatenate(times)) if times else np.array([], dtype="datetime64[ns]")


def _file_of(part: Any) -> Path:
    """The file echopype read for ``part`` (a part of a file, or a direct read's
    configuration file), whose name errors replace with the original's."""
    workfile = getattr(part, "workfile", None)
    return Path(workfile) if workfile is not None else Path(part)


def _nt_ticks(times: np.ndarray) -> np.ndarray:
    """``times`` (datetime64) as NT ticks (100 ns since 1601), the datagrams' time unit."""
    from .navigation import NT_UNIX_EPOCH

    return np.asarray(times, dtype="datetime64[ns]").astype(np.int64) // 100 + NT_UNIX_EPOCH


def navigation_notes(path: Path, nav: Any, where: dict[str, np.ndarray]) -> list[str]:
    """One line for each thing the file lacks to place its targets (none: [])."""
    notes = []
    if not nav.has_position:
        notes.append(
            f"{path.name}: no position (no valid GGA/RMC/GLL NMEA sentence): latitude and "
            "longitude are NaN"
        )
    elif np.isnan(where["latitude"]).any():
        n = int(np.isnan(where["latitude"]).sum())
        notes.append(f"{path.name}: {n} targets have no position fix within nav_max_gap: NaN")
    if not nav.has_log:
        notes.append(f"{path.name}: no vessel log (no VLW NMEA sentence): vessel_log is NaN")
    if np.isnan(where["depth"]).any():
        notes.append(f"{path.name}: no transducer offset or water level in the file: depth is NaN")
    return notes


def _light(result: Any) -> Any:
    """``result`` without its per-sample profiles (the source keeps every ping's result
    until the end, for the seabed's consistency between pings)."""
    from dataclasses import replace

    empty = np.empty(0)
    return replace(
        result, ranges=empty, sp=empty, angle_along=None, angle_athwart=None, compensation=None
    )


def calibration_summary(sources: dict[str, str]) -> str:
    """One line: where each channel's calibration came from (``sources``: channel id ->
    "calibration table", "nominal" or "calibration file NAME")."""
    if sources and all(v == "calibration table" for v in sources.values()):
        return "calibration table"
    files = sorted({v for v in sources.values() if v.startswith("calibration file")})
    nominal = [k for k, v in sources.items() if v == "nominal"]
    table = [k for k, v in sources.items() if v == "calibration table"]
    if not files:
        return "nominal scaling for: " + ", ".join(nominal)
    parts = [f"{f} for: " + ", ".join(k for k, v in sources.items() if v == f) for f in files]
    if table:
        parts.append("the input's calibration table for: " + ", ".join(table))
    if nominal:
        parts.append("nominal scaling for: " + ", ".join(nominal))
    return "; ".join(parts)


def build_spectra(
    path: Path,
    targets: list[dict[str, Any]],
    grids: list[np.ndarray],
    det: DetectionSettings,
    tsf: TsfSettings,
    info: dict[str, Any],
    counts: dict[str, int],
    skipped: list[str],
) -> Any:
    """The spectra Dataset (DESIGN.md schema) of ``targets``."""
    from ts_toolkit.spectra import make_spectra

    from .core import band_grid

    # one regular grid over all bands: NaN in the gaps between channels' bands
    measured = np.unique(np.concatenate(grids)) if grids else np.array([1.0])
    freq = band_grid(measured[0], measured[-1], tsf.frequency_step)
    bands = sorted({(float(g[0]), float(g[-1])) for g in grids if g.size})
    ts = np.full((len(targets), freq.size), np.nan)
    for i, t in enumerate(targets):
        idx = np.rint((t["frequency"] - freq[0]) / tsf.frequency_step).astype(int)
        ts[i, idx] = t["TS"]

    def col(name: str, dtype: Any = float) -> np.ndarray:
        return np.asarray([t[name] for t in targets], dtype=dtype)

    cal = info.get("channels", {})
    calfile = info.get("calibration_file")
    attrs = {
        "title": f"single targets detected in {path.name} and their TS(f)",
        "source": "ek80",
        "source_file": str(path),
        "method": METHOD,
        "echopype_version": info.get("echopype_version", "?"),
        "calibration_source": cal,
        "calibration": calibration_summary(cal),
        "calibration_file": calfile["file"] if calfile else "none (the input's own)",
        "calibration_file_sha256": calfile["sha256"] if calfile else "",
        "detection_settings": asdict(det),
        "bottom_method": bottom_method(det),
        "bottom_settings": info.get("bottom_settings", {}),
        "bottom_summary": info.get("bottom_summary", {}),
        "tsf_settings": asdict(tsf),
        "detection_counts": counts,
        "n_targets": len(targets),
        "bands": [list(b) for b in bands],
        "single_beam_channels_skipped": skipped,
        "navigation": info.get("navigation", ""),
        "input_notes": info.get("notes", []),
        "transducer_depth_method": TRANSDUCER_DEPTH_METHOD,
    }
    ds = make_spectra(
        freq,
        ts,
        attrs=attrs,
        file=np.asarray([path.name] * len(targets), dtype=object),
        channel=np.asarray([str(t["channel"]) for t in targets], dtype=object),
        ping_time=np.asarray([t["ping_time"] for t in targets], dtype="datetime64[ns]"),
        range=col("range"),
        angle_alongship=col("angle_alongship"),
        angle_athwartship=col("angle_athwartship"),
        beam_compensation=col("beam_compensation"),
        Sp=col("Sp"),
        TS_centre=col("TS_centre"),
        echo_length=col("echo_length"),
        n_channels=col("members", np.int64),
        bottom_range=col("bottom_range"),
        depth=col("depth"),
        latitude=col("latitude"),
        longitude=col("longitude"),
        vessel_log=col("vessel_log"),
        ping_number=col("ping_number", np.int64),
    )
    units = {
        "beam_compensation": ("dB", "two-way beam compensation at the centre frequency"),
        "Sp": ("dB re 1 m2", "uncompensated point backscattering strength at the peak"),
        "TS_centre": ("dB re 1 m2", "beam-compensated TS at the centre frequency"),
        "echo_length": ("1", "echo length normalised by the compressed pulse's"),
        "n_channels": ("1", "channels merged into this target"),
        "bottom_range": ("m", "range of the seabed in this target's ping (NaN: none found)"),
    }
    for name, (unit, long_name) in units.items():
        ds[name].attrs.update(units=unit, long_name=long_name)
    return ds
