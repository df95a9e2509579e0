"""The ``ek80`` Source: an EK80 ``.raw`` file → single targets → spectra Dataset."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError

from .datagrams import check_framing, is_ek80

if TYPE_CHECKING:
    from .core import TsfSettings
    from .detection import DetectionSettings

METHOD = (
    "Andersen et al. 2024 (Methods Ecol. Evol. 15:317); Demer et al. 2015 "
    "(ICES CRR 326): ideal tapered chirp, file filter stages, matched filter, "
    "sector average, split-beam angles, single-target detection, windowed DFT / "
    "transmit autocorrelation spectrum, Francois-Garrison absorption"
)


def split_options(options: dict[str, Any]) -> tuple[DetectionSettings, TsfSettings, dict[str, Any]]:
    """Detection settings, TS(f) settings and the remaining options; unknown names raise.

    The seabed detector's settings (:class:`.bottom.BottomSettings`) are given as options
    named ``bottom_<field>`` (e.g. ``bottom_min_sa``) and returned as ``rest["bottom"]``.
    """
    from .bottom import BottomSettings
    from .core import TsfSettings
    from .detection import DetectionSettings

    det_names = {f.name for f in fields(DetectionSettings)}
    tsf_names = {f.name for f in fields(TsfSettings)}
    bottom_names = {f"bottom_{f.name}" for f in fields(BottomSettings)} - det_names
    other_names = {"channels", "single_beam", "merge", "range_tolerance", "open_kwargs"}
    unknown = set(options) - det_names - tsf_names - bottom_names - other_names
    if unknown:
        raise InvalidParameterError(
            f"unknown ek80 option(s) {sorted(unknown)}; known: "
            f"{sorted(det_names | tsf_names | bottom_names | other_names)}"
        )
    mode = options.get("bottom_sp", "auto")
    if isinstance(mode, str) and mode.lower() != "auto":
        raise InvalidParameterError(
            f"bottom_sp must be 'auto', None or a number (dB), not {mode!r}"
        )
    try:
        det = DetectionSettings(**{k: v for k, v in options.items() if k in det_names})
        tsf = TsfSettings(**{k: v for k, v in options.items() if k in tsf_names})
        bottom = BottomSettings(
            **{k[len("bottom_") :]: v for k, v in options.items() if k in bottom_names}
        )
    except TypeError as exc:
        raise InvalidParameterError(f"bad ek80 option: {exc}") from exc
    rest = {k: v for k, v in options.items() if k in other_names}
    rest["bottom"] = bottom
    return det, tsf, rest


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


class Ek80Source:
    """Simrad EK80 .raw (FM, complex samples) via echopype: single targets and their TS(f)."""

    name: ClassVar[str] = "ek80"

    def can_open(self, path: str | Path) -> bool:
        """True when the file starts with an EK80 ``XML0`` datagram (no echopype import)."""
        return Path(path).is_file() and is_ek80(path)

    def open(self, path: str | Path, **options: Any) -> Any:
        """Detect single targets in every FM split-beam channel and return their TS(f).

        Options: any :class:`DetectionSettings` or :class:`TsfSettings` field;
        ``channels`` (list of channel ids), ``single_beam`` (bool, default False: include
        single-beam FM channels, uncompensated), ``merge`` (bool, default True),
        ``range_tolerance`` (m, default 0.1), ``open_kwargs`` (dict for
        ``echopype.open_raw``).
        """
        from .core import PingResult, Replica, process_ping
        from .merge import merge_targets
        from .reader import iter_fm_pings

        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"file not found: {p}")
        if not is_ek80(p):
            raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
        check_framing(p)
        det, tsf, rest = split_options(dict(options))
        single_beam = bool(rest.get("single_beam", False))
        info: dict[str, Any] = {}
        skipped: set[str] = set()
        targets: list[dict[str, Any]] = []
        grids: list[np.ndarray] = []
        replicas: dict[tuple[Any, ...], Replica] = {}
        counts: dict[str, int] = {}
        used: set[str] = set()
        pings: list[tuple[str, PingResult]] = []
        for ping in iter_fm_pings(
            p, info, rest.get("channels"), **dict(rest.get("open_kwargs") or {})
        ):
            if not single_beam and (ping.beam_type == 0 or ping.n_sectors < 3):
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
                result: PingResult = process_ping(ping, det, tsf, replicas[key], rest["bottom"])
            except (ValueError, IndexError) as exc:
                raise InputFileError(
                    f"{p}: channel {ping.channel}, ping {ping.ping_time}: cannot process: {exc}"
                ) from exc
            grids.append(result.frequency)
            for t in result.targets + result.below_bottom:
                t.update(channel=ping.channel, ping_time=ping.ping_time, frequency=result.frequency)
            # keep what the consistency step needs, not the per-sample profiles
            pings.append((ping.channel, _light(result)))
        if not used:
            raise InputFileError(
                f"no split-beam FM channels in {p} (single-beam FM channels: "
                f"{', '.join(sorted(skipped))}; use single_beam=True to extract them "
                "without beam compensation)"
            )
        info["channels"] = {k: v for k, v in info["channels"].items() if k in used}
        info["bottom_summary"] = apply_consistent_bottoms(pings, det, rest["bottom"])
        for _, result in pings:
            targets.extend(result.targets)
            for k, v in result.counts.items():
                counts[k] = counts.get(k, 0) + v
        info["bottom_settings"] = rest["bottom"].as_dict()
        if rest.get("merge", True):
            targets = merge_targets(targets, float(rest.get("range_tolerance", 0.1)))
        else:
            for t in targets:
                t["members"] = 1
        return build_spectra(p, targets, grids, det, tsf, info, counts, sorted(skipped))


def _light(result: Any) -> Any:
    """``result`` without its per-sample profiles (the source keeps every ping's result
    until the end, for the seabed's consistency between pings)."""
    from dataclasses import replace

    empty = np.empty(0)
    return replace(
        result, ranges=empty, sp=empty, angle_along=None, angle_athwart=None, compensation=None
    )


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
    attrs = {
        "source": "ek80",
        "source_file": str(path),
        "method": METHOD,
        "echopype_version": info.get("echopype_version", "?"),
        "calibration_source": cal,
        "calibration": (
            "calibration table"
            if cal and all(v == "calibration table" for v in cal.values())
            else "nominal scaling for: "
            + ", ".join(k for k, v in cal.items() if v != "calibration table")
        ),
        "detection_settings": asdict(det),
        "bottom_method": bottom_method(det),
        "bottom_settings": info.get("bottom_settings", {}),
        "bottom_summary": info.get("bottom_summary", {}),
        "tsf_settings": asdict(tsf),
        "detection_counts": counts,
        "n_targets": len(targets),
        "bands": [list(b) for b in bands],
        "single_beam_channels_skipped": skipped,
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
