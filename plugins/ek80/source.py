"""The ``ek80`` Source: an EK80 ``.raw`` file → single targets → spectra Dataset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ts_toolkit.errors import InputFileError
from ts_toolkit.interfaces import Source, SyntheticSurvey
from ts_toolkit.options import option

from .core import TsfSettings
from .datagrams import check_framing, is_ek80
from .detection import DetectionSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from ts_toolkit.parameters import ParameterSpace

METHOD = (
    "Andersen et al. 2024 (Methods Ecol. Evol. 15:317); Demer et al. 2015 "
    "(ICES CRR 326): ideal tapered chirp, file filter stages, matched filter, "
    "sector average, split-beam angles, single-target detection, windowed DFT / "
    "transmit autocorrelation spectrum, Francois-Garrison absorption"
)


@dataclass(frozen=True)
class Ek80Options(DetectionSettings, TsfSettings):
    """Options of the ``ek80`` source: single-target detection (:class:`DetectionSettings`),
    TS(f) (:class:`TsfSettings`) and which channels to read."""

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
    use_swap: bool = option(False, "Let echopype keep samples on disk (large files).")

    def detection(self) -> DetectionSettings:
        return DetectionSettings(**_subset(self, DetectionSettings))

    def tsf(self) -> TsfSettings:
        return TsfSettings(**_subset(self, TsfSettings))


def _subset(options: Ek80Options, cls: type) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in fields(cls)}


#: Transducers of the synthetic survey that :meth:`Ek80Source.write_synthetic_survey` writes.
SYNTHETIC_CHANNELS = "70,120,200"


class Ek80Source(Source):
    """Simrad EK80 .raw (FM, complex samples) via echopype: single targets and their TS(f)."""

    name: ClassVar[str] = "ek80"
    suffixes: ClassVar[tuple[str, ...]] = (".raw",)
    Options: ClassVar[type] = Ek80Options
    writes_synthetic_surveys: ClassVar[bool] = True

    def can_open(self, path: str | Path) -> bool:
        """True when the file starts with an EK80 ``XML0`` datagram (no echopype import)."""
        return Path(path).is_file() and is_ek80(path)

    def _open(self, path: Path, options: Ek80Options) -> Any:
        """Detect single targets in every FM split-beam channel and return their TS(f)."""
        from .core import PingResult, Replica, process_ping
        from .merge import merge_targets
        from .reader import iter_fm_pings

        p = path
        if not p.is_file():
            raise InputFileError(f"file not found: {p}")
        if not is_ek80(p):
            raise InputFileError(f"{p} is not an EK80 .raw file (no XML0 datagram first)")
        check_framing(p)
        det, tsf = options.detection(), options.tsf()
        info: dict[str, Any] = {}
        skipped: set[str] = set()
        targets: list[dict[str, Any]] = []
        grids: list[np.ndarray] = []
        replicas: dict[tuple[Any, ...], Replica] = {}
        counts: dict[str, int] = {}
        used: set[str] = set()
        channels = list(options.channels) if options.channels else None
        open_kwargs = {"use_swap": True} if options.use_swap else {}
        for ping in iter_fm_pings(p, info, channels, **open_kwargs):
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
                result: PingResult = process_ping(ping, det, tsf, replicas[key])
            except (ValueError, IndexError) as exc:
                raise InputFileError(
                    f"{p}: channel {ping.channel}, ping {ping.ping_time}: cannot process: {exc}"
                ) from exc
            grids.append(result.frequency)
            for k, v in result.counts.items():
                counts[k] = counts.get(k, 0) + v
            for t in result.targets:
                t.update(channel=ping.channel, ping_time=ping.ping_time, frequency=result.frequency)
                targets.append(t)
        if not used:
            raise InputFileError(
                f"no split-beam FM channels in {p} (single-beam FM channels: "
                f"{', '.join(sorted(skipped))}; use -O single_beam=true to extract them "
                "without beam compensation)"
            )
        info["channels"] = {k: v for k, v in info["channels"].items() if k in used}
        if options.merge:
            targets = merge_targets(targets, options.range_tolerance)
        else:
            for t in targets:
                t["members"] = 1
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
