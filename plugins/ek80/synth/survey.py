"""A synthetic EK80 survey: targets drawn from a parameter space, pings, the ``.raw`` file.

Typical use::

    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw, write_truth
    survey = make_survey(n_targets=10, seed=1, channels="70,120,200")
    write_raw(survey, "survey.raw")
    write_truth(survey, "survey.truth.nc")      # and survey.truth.csv

or, with a TS(f) of one's own (no simulator)::

    from ts_toolkit_plugins.ek80.synth import Survey, SyntheticTarget
    t = SyntheticTarget(ping=0, range=10.0, angle_along=1.0, angle_athwart=-0.5,
                        frequency=f_hz, ts=ts_db)
    write_raw(Survey(settings, [t], n_pings=1, seed=0), "one.raw")

Randomness: everything follows from ``seed``. Target parameters are drawn by
:func:`ts_toolkit.parameters.sample_parameters` with ``seed``; geometry (ping, range,
angles) and noise use generators spawned from ``numpy.random.SeedSequence(seed)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ts_toolkit.errors import InvalidParameterError, TsToolkitError
from ts_toolkit.outputs import atomic_output
from ts_toolkit.signals import interrupt_from_error

from ..environment import Environment
from ..filters import FilterStage
from . import navigation as nav
from . import raw_format as rf
from .config_xml import configuration_xml, environment_xml, parameter_xml
from .echo import PHASES, EchoTarget, channel_ping
from .seabed import Seabed, seabed_echoes
from .settings import SURVEY_WATER, ChannelSettings, SurveySettings, default_channels
from .transmit import design_stages

DEFAULT_START = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
PARAMETER_NAMES = ("a", "b", "theta", "Req", "alpha", "rho_s", "c_s", "rho_w", "c_w")


@dataclass
class SyntheticTarget:
    """One target: its ping (0-based), range (m), angles (deg; + fore, + starboard), TS
    (dB re 1 m²) on ``frequency`` (Hz), kind and model parameters (SI, theta in deg), and
    the track (animal) it belongs to (-1: none)."""

    ping: int
    range: float
    angle_along: float
    angle_athwart: float
    frequency: np.ndarray
    ts: np.ndarray
    kind: str = "unknown"
    parameters: dict[str, float] = field(default_factory=dict)
    track: int = -1  # the animal this echo belongs to, when one is followed over pings

    def echo(self) -> EchoTarget:
        return EchoTarget(
            self.range,
            self.angle_along,
            self.angle_athwart,
            np.asarray(self.frequency, float),
            np.asarray(self.ts, float),
        )


@dataclass
class Survey:
    """Settings, targets and timing of a synthetic survey."""

    settings: SurveySettings
    targets: list[SyntheticTarget]
    n_pings: int
    seed: int
    start_time: datetime = DEFAULT_START
    simulator: str | None = None
    phase: str = "zero"
    notes: dict[str, Any] = field(default_factory=dict)
    seabed: Seabed | None = None

    def __post_init__(self) -> None:
        if self.n_pings < 1:
            raise InvalidParameterError(f"--pings must be at least 1, got {self.n_pings}")
        if self.phase not in PHASES:
            raise InvalidParameterError(f"phase {self.phase!r} unknown; use one of {PHASES}")
        for t in self.targets:
            if not 0 <= t.ping < self.n_pings:
                raise InvalidParameterError(f"target ping {t.ping} outside 0..{self.n_pings - 1}")
            if not 0 < t.range < self.settings.max_range:
                raise InvalidParameterError(
                    f"target range {t.range:g} m outside (0, {self.settings.max_range:g}) m"
                )
        _check_seabed(self)

    def ping_time(self, ping: int) -> datetime:
        """Time (UTC) of ping ``ping``: pings start one interval after the file start."""
        return self.start_time + timedelta(seconds=(ping + 1) * self.settings.ping_interval)

    def n_samples(self, ch: ChannelSettings) -> int:
        """Samples recorded per ping on ``ch`` (to ``max_range``)."""
        c = self.settings.environment.c
        return int(np.ceil(2.0 * self.settings.max_range / (c * ch.sample_interval)))


def _check_seabed(survey: Survey) -> None:
    """The seabed, if any, lies inside the recorded range and below every target."""
    bed = survey.seabed
    if bed is None:
        return
    if bed.range >= survey.settings.max_range:
        raise InvalidParameterError(
            f"seabed at {bed.range:g} m is beyond the recorded range "
            f"{survey.settings.max_range:g} m"
        )
    deepest = max((t.range for t in survey.targets), default=0.0)
    if deepest >= bed.range:
        raise InvalidParameterError(
            f"a target at {deepest:g} m is at or below the seabed ({bed.range:g} m)"
        )


def ping_echoes(survey: Survey, ping: int) -> list[EchoTarget]:
    """The echoes of ping ``ping``: its targets and, if the survey has one, the seabed."""
    echoes = [t.echo() for t in survey.targets if t.ping == ping]
    if survey.seabed is not None:
        echoes += seabed_echoes(survey.seabed, survey.seed, ping)
    return echoes


def _spawned(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def analysis_grid(channels: Sequence[ChannelSettings], step: float = 500.0) -> np.ndarray:
    """Frequencies (Hz, multiples of ``step``) covering every channel's FM band."""
    parts = []
    for ch in channels:
        lo, hi = sorted((ch.model.f_start, ch.model.f_stop))
        k0, k1 = int(np.floor(lo / step)), int(np.ceil(hi / step))
        parts.append(np.arange(k0, k1 + 1) * step)
    return np.unique(np.concatenate(parts))


def simulate_ts(
    simulator: str,
    frequency: np.ndarray,
    params: dict[str, np.ndarray],
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """TS (n_target, n_freq) from a Simulator plugin, one target at a time.

    Sphere models (no ``b`` parameter) get ``a = Req``. NaN values (frequencies where the
    model did not converge) are filled by linear interpolation in frequency; the
    simulator's warnings are returned.
    """
    from ts_toolkit.plugins import get_simulator

    sim = get_simulator(simulator)
    names = set(sim.parameters)
    n = int(np.asarray(params["Req"]).size)
    out = np.empty((n, frequency.size))
    messages: list[str] = []
    for i in range(n):
        wanted = {k: float(np.asarray(params[k])[i]) for k in names if k in params}
        if "b" not in names and "a" in names:
            wanted["a"] = float(np.asarray(params["Req"])[i])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with interrupt_from_error():
                ts = np.asarray(sim.ts(frequency, **wanted), dtype=float).reshape(-1)
        messages += [str(w.message) for w in caught]
        ok = np.isfinite(ts)
        if not ok.any():
            raise TsToolkitError(f"simulator {simulator!r} gave no finite TS for target {i}")
        if not ok.all():
            ts = np.interp(frequency, frequency[ok], ts[ok])
        out[i] = ts
        if progress is not None:
            progress(1)
    return out, messages


def place_targets(
    n_targets: int,
    n_pings: int,
    rng: np.random.Generator,
    min_range: float,
    max_range: float,
    max_angle: float,
    separation: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ping index, range (m) and angles (deg) of each target.

    Targets go to pings in a random order, as evenly as possible; ranges are uniform in
    ``[min_range, max_range]`` with at least ``separation`` (m) between targets of one
    ping; angles are uniform over the disc of radius ``max_angle`` (deg).
    """
    if max_range <= min_range:
        raise InvalidParameterError(
            f"no room for targets: min range {min_range:g} m >= max range {max_range:g} m"
        )
    ping = rng.permutation(np.arange(n_targets) % n_pings)
    ranges = np.empty(n_targets)
    for p in range(n_pings):
        idx = np.flatnonzero(ping == p)
        for _ in range(1000):
            r = rng.uniform(min_range, max_range, idx.size)
            if idx.size < 2 or np.min(np.diff(np.sort(r))) >= separation:
                break
        else:
            raise InvalidParameterError(
                f"cannot place {idx.size} targets {separation:g} m apart in "
                f"{min_range:g}-{max_range:g} m; use more --pings"
            )
        ranges[idx] = r
    radius = max_angle * np.sqrt(rng.random(n_targets))
    azimuth = 2 * np.pi * rng.random(n_targets)
    return ping, ranges, radius * np.cos(azimuth), radius * np.sin(azimuth)


def make_survey(
    n_targets: int,
    seed: int,
    channels: str | Sequence[ChannelSettings] = "70,120,200",
    n_pings: int | None = None,
    simulator: str = "prolate-spheroid",
    space: Any = None,
    noise_db: float | None = -150.0,
    environment: Environment | None = None,
    min_range: float = 5.0,
    max_range: float = 25.0,
    record_range: float | None = None,
    max_angle: float = 2.0,
    separation: float = 3.0,
    ts_step: float = 500.0,
    phase: str = "zero",
    start_time: datetime = DEFAULT_START,
    ping_interval: float = 1.0,
    progress: Callable[[int], None] | None = None,
    seabed: Seabed | None = None,
) -> Survey:
    """Draw ``n_targets`` from ``space`` (default: the paper's Table I, split over gas and
    liquid) with ``seed``, simulate their TS(f) with ``simulator`` on a ``ts_step`` (Hz)
    grid over the channels' bands, and place them in ``n_pings`` pings (default: one target
    per ping) at ranges in [``min_range``, ``max_range``] (m) and angles within
    ``max_angle`` (deg). Samples are recorded to ``record_range`` (m; default
    ``max_range`` + 3 m, and at least 3 m beyond the ``seabed`` if one is given)."""
    from ts_toolkit.parameters import sample_parameters, table1_space

    if n_targets < 1:
        raise InvalidParameterError(f"--targets must be at least 1, got {n_targets}")
    chans = default_channels(channels) if isinstance(channels, str) else tuple(channels)
    if seabed is not None and seabed.range <= max_range:
        raise InvalidParameterError(
            f"the seabed ({seabed.range:g} m) must lie beyond the farthest target range "
            f"({max_range:g} m)"
        )
    if record_range is None:
        record_range = max_range + 3.0
        if seabed is not None:
            record_range = max(record_range, seabed.range + 3.0)
    settings = SurveySettings(
        chans,
        environment or SURVEY_WATER,
        max_range=record_range,
        ping_interval=ping_interval,
        noise_db=noise_db,
    )
    n_pings = n_targets if n_pings is None else n_pings
    ps = (space or table1_space()).with_total(n_targets)
    params = sample_parameters(ps, seed)
    (geo_rng,) = _spawned(seed, 1)
    frequency = analysis_grid(chans, ts_step)
    ts, messages = simulate_ts(simulator, frequency, params, progress)
    ping, ranges, al, at = place_targets(
        n_targets, n_pings, geo_rng, min_range, max_range, max_angle, separation
    )
    targets = []
    for i in range(n_targets):
        p = {k: float(params[k][i]) for k in PARAMETER_NAMES}
        targets.append(
            SyntheticTarget(
                int(ping[i]),
                float(ranges[i]),
                float(al[i]),
                float(at[i]),
                frequency,
                ts[i],
                str(params["kind"][i]),
                p,
            )
        )
    order = sorted(range(n_targets), key=lambda i: (targets[i].ping, targets[i].range))
    notes = {
        "space": ps.describe(),
        "simulator_warnings": sorted(set(messages))[:20],
        "min_range_m": min_range,
        "max_range_m": max_range,
        "max_angle_deg": max_angle,
    }
    if seabed is not None:
        notes["seabed"] = seabed.as_dict()
    return Survey(
        settings,
        [targets[i] for i in order],
        n_pings,
        seed,
        start_time,
        simulator,
        phase,
        notes,
        seabed,
    )


def channel_stages(ch: ChannelSettings) -> tuple[FilterStage, FilterStage]:
    """The two receiver filter stages of a channel (as written to FIL1)."""
    return design_stages(ch.model.f_start, ch.model.f_stop, ch.fs, ch.decimation)


def write_raw(
    survey: Survey,
    path: str | Path,
    progress: Callable[[int], None] | None = None,
    keep_samples: dict[tuple[int, str], np.ndarray] | None = None,
) -> Path:
    """Write the survey as an EK80 ``.raw`` file; returns the path.

    ``keep_samples``, when given, receives the complex samples written, keyed by
    ``(ping, channel_id)``, shape (n_sample, n_sector).

    Order: XML0 Configuration, FIL1 (2 stages per channel), XML0 Environment; then per
    ping the NME0 sentences (GGA position, VLW log; :mod:`.navigation`) sent since the
    previous ping, MRU0 (motion) and, for each channel, XML0 Parameter followed by RAW3
    (complex float32 samples of all sectors). The transducers are installed
    :data:`.navigation.TRANSDUCER_DEPTH` m below the surface.
    """
    s = survey.settings
    env = s.environment
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    noise_rngs = _spawned(survey.seed, 2 + len(s.channels))[2:]
    stages = {ch.channel_id: channel_stages(ch) for ch in s.channels}
    t0 = survey.start_time
    with atomic_output(out) as tmp:
        with tmp.open("wb") as fh:
            fh.write(rf.xml_datagram(t0, configuration_xml(s.channels, nav.TRANSDUCER_OFFSET_Z)))
            for ch in s.channels:
                for i, st in enumerate(stages[ch.channel_id], start=1):
                    fh.write(
                        rf.filter_datagram(t0, ch.channel_id, i, st.coefficients, st.decimation)
                    )
            fh.write(rf.xml_datagram(t0, environment_xml(env, nav.WATER_LEVEL_DRAFT)))
            sentences = nav.nav_records(t0, survey.ping_time(survey.n_pings - 1))
            k = 0
            for p in range(survey.n_pings):
                when = survey.ping_time(p)
                while k < len(sentences) and sentences[k][0] <= when:
                    fh.write(rf.nmea_datagram(sentences[k][0], sentences[k][2]))
                    k += 1
                fh.write(rf.mru_datagram(when, heading=90.0))
                echoes = ping_echoes(survey, p)
                for ch, rng in zip(s.channels, noise_rngs):
                    samples = channel_ping(
                        ch,
                        env,
                        echoes,
                        survey.n_samples(ch),
                        s.noise_db,
                        rng,
                        survey.phase,
                        stages[ch.channel_id],
                    )
                    fh.write(rf.xml_datagram(when, parameter_xml(ch)))
                    fh.write(rf.raw3_datagram(when, ch.channel_id, samples))
                    if keep_samples is not None:
                        keep_samples[(p, ch.channel_id)] = samples
                if progress is not None:
                    progress(1)
    return out
