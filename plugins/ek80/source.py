"""The ``ek80`` Source: an EK80 ``.raw`` file → single targets → spectra Dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError, InvalidParameterError

from .datagrams import is_ek80
from .pieces import readable_parts
from .salvage import SalvagePlan, relabel

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
    """Detection settings, TS(f) settings and the remaining options; unknown names raise."""
    from .core import TsfSettings
    from .detection import DetectionSettings

    det_names = {f.name for f in fields(DetectionSettings)}
    tsf_names = {f.name for f in fields(TsfSettings)}
    other_names = {"channels", "single_beam", "merge", "range_tolerance", "open_kwargs"}
    unknown = set(options) - det_names - tsf_names - other_names
    if unknown:
        raise InvalidParameterError(
            f"unknown ek80 option(s) {sorted(unknown)}; known: "
            f"{sorted(det_names | tsf_names | other_names)}"
        )
    det = DetectionSettings(**{k: v for k, v in options.items() if k in det_names})
    tsf = TsfSettings(**{k: v for k, v in options.items() if k in tsf_names})
    rest = {k: v for k, v in options.items() if k in other_names}
    return det, tsf, rest


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
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"file not found: {p}")
        if not is_ek80(p):
            raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
        from ts_toolkit.spectra import to_attr

        det, tsf, rest = split_options(dict(options))
        with readable_parts(p) as (parts, plan):
            ds = self._extract(p, parts, plan, det, tsf, rest)
        warning = plan.warning()
        ds.attrs["warnings"] = to_attr([warning] if warning else [])
        ds.attrs["pings_read"] = plan.kept_pings
        ds.attrs["pings_dropped"] = len(plan.incomplete)
        ds.attrs["bytes_unreadable"] = plan.bytes_lost
        return ds

    def _extract(
        self,
        p: Path,
        parts: Iterator[Path],
        plan: SalvagePlan,
        det: DetectionSettings,
        tsf: TsfSettings,
        rest: dict[str, Any],
    ) -> Any:
        """The spectra Dataset of file ``p`` read as ``parts`` (see :mod:`.pieces`): the
        same targets, in the same order, as from one read of the whole file."""
        from .core import PingResult, Replica, process_ping
        from .merge import merge_targets
        from .reader import NoFmDataError, iter_fm_pings

        single_beam = bool(rest.get("single_beam", False))
        info: dict[str, Any] = {}
        skipped: set[str] = set()
        targets: list[dict[str, Any]] = []
        grids: list[np.ndarray] = []
        replicas: dict[tuple[Any, ...], Replica] = {}
        counts: dict[str, int] = {}
        used: set[str] = set()
        rank: dict[str, int] = {}  # channels in the order the reader gives them
        no_fm: list[InputFileError] = []
        n_parts = 0
        for part in parts:
            n_parts += 1
            try:
                pings = iter_fm_pings(
                    part, info, rest.get("channels"), **dict(rest.get("open_kwargs") or {})
                )
                for ping in pings:
                    rank.setdefault(ping.channel, len(rank))
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
                        result: PingResult = process_ping(ping, det, tsf, replicas[key])
                    except (ValueError, IndexError) as exc:
                        raise InputFileError(
                            f"{p}: channel {ping.channel}, ping {ping.ping_time}: "
                            f"cannot process: {exc}"
                        ) from exc
                    grids.append(result.frequency)
                    for k, v in result.counts.items():
                        counts[k] = counts.get(k, 0) + v
                    for t in result.targets:
                        t.update(channel=ping.channel, ping_time=ping.ping_time)
                        t["frequency"] = result.frequency
                        targets.append(t)
            except NoFmDataError as exc:  # this part has none; another may
                no_fm.append(relabel(exc, part, p, plan))
            except InputFileError as exc:
                raise relabel(exc, part, p, plan) from exc
        if no_fm and len(no_fm) == n_parts:
            raise no_fm[0]
        if not used:
            raise InputFileError(
                f"no split-beam FM channels in {p} (single-beam FM channels: "
                f"{', '.join(sorted(skipped))}; use single_beam=True to extract them "
                "without beam compensation)"
            )
        # one part reads channel after channel; parts read ping after ping: channels first
        targets.sort(key=lambda t: rank[t["channel"]])
        info["channels"] = {k: v for k, v in info["channels"].items() if k in used}
        if rest.get("merge", True):
            targets = merge_targets(targets, float(rest.get("range_tolerance", 0.1)))
        else:
            for t in targets:
                t["members"] = 1
        return build_spectra(p, targets, grids, det, tsf, info, counts, sorted(skipped))


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
    )
    units = {
        "beam_compensation": ("dB", "two-way beam compensation at the centre frequency"),
        "Sp": ("dB re 1 m2", "uncompensated point backscattering strength at the peak"),
        "TS_centre": ("dB re 1 m2", "beam-compensated TS at the centre frequency"),
        "echo_length": ("1", "echo length normalised by the compressed pulse's"),
        "n_channels": ("1", "channels merged into this target"),
    }
    for name, (unit, long_name) in units.items():
        ds[name].attrs.update(units=unit, long_name=long_name)
    return ds
