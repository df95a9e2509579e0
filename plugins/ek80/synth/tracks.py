"""A synthetic survey of fish crossing the beam: each animal seen in several consecutive pings.

Every fish keeps its kind, size and mean tilt; from ping to ping it moves across the beam
(alongship angle from one side to the other, range drifting a little), its tilt wobbles
(``tilt_sd``), and its measured TS(f) scatters by ``ts_noise_db`` (Gaussian, independent per
frequency and ping) — the ping-to-ping variability that averaging along a track removes.
The truth records each echo's ``track`` (the fish's number).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ts_toolkit.errors import InvalidParameterError

from .settings import SURVEY_WATER, ChannelSettings, SurveySettings, default_channels
from .survey import (
    PARAMETER_NAMES,
    Survey,
    SyntheticTarget,
    _spawned,
    analysis_grid,
    simulate_ts,
)


def _schedule(
    lengths: np.ndarray, rng: np.random.Generator, overlap: float
) -> tuple[np.ndarray, int]:
    """First ping of each fish and the number of pings: about ``overlap`` fish per ping."""
    n_pings = max(int(lengths.max()), int(np.ceil(lengths.sum() / overlap)))
    first = np.array([rng.integers(0, n_pings - n + 1) for n in lengths])
    return first, n_pings


def _ranges(
    first: np.ndarray,
    lengths: np.ndarray,
    rng: np.random.Generator,
    min_range: float,
    max_range: float,
    clearance: float,
) -> np.ndarray:
    """A base range (m) per fish, ``clearance`` from every fish seen in a common ping."""
    ranges = np.full(first.size, np.nan)
    for k in range(first.size):
        last = first[k] + lengths[k]
        overlapping = [j for j in range(k) if first[j] < last and first[k] < first[j] + lengths[j]]
        for _ in range(2000):
            r = rng.uniform(min_range, max_range)
            if all(abs(r - ranges[j]) >= clearance for j in overlapping):
                ranges[k] = r
                break
        else:
            raise InvalidParameterError(
                f"cannot keep fish {clearance:g} m apart in {min_range:g}-{max_range:g} m; "
                "use fewer fish at a time or a wider range"
            )
    return ranges


def make_track_survey(
    n_fish: int,
    seed: int,
    pings_per_fish: tuple[int, int] = (5, 15),
    channels: str | Sequence[ChannelSettings] = "70,120,200",
    simulator: str = "prolate-spheroid",
    space: Any = None,
    noise_db: float | None = -150.0,
    min_range: float = 5.0,
    max_range: float = 25.0,
    max_angle: float = 2.0,
    separation: float = 1.0,
    drift: float = 0.02,
    tilt_sd: float = 3.0,
    ts_noise_db: float = 1.0,
    fish_per_ping: float = 3.0,
    ts_step: float = 500.0,
    ping_interval: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> Survey:
    """``n_fish`` fish drawn from ``space`` (default Table I) with ``seed``, each seen in
    ``pings_per_fish`` (inclusive range) consecutive pings, about ``fish_per_ping`` at a
    time. A fish crosses the beam alongship from -``max_angle`` to +``max_angle`` (deg; or
    back) at a fixed athwartship angle, its range drifting by up to ``drift`` m per ping;
    fish seen in a common ping stay at least ``separation`` m apart. Its tilt in each ping
    is its drawn theta plus Gaussian ``tilt_sd`` (deg, clipped to 0-90); its TS(f) in each
    ping is the ``simulator``'s at that tilt plus Gaussian ``ts_noise_db`` dB per frequency.
    """
    from ts_toolkit.parameters import sample_parameters, table1_space

    lo, hi = pings_per_fish
    if n_fish < 1 or not 1 <= lo <= hi:
        raise InvalidParameterError(
            f"need n_fish >= 1 and 1 <= pings_per_fish[0] <= pings_per_fish[1], got "
            f"{n_fish} and {pings_per_fish}"
        )
    chans = default_channels(channels) if isinstance(channels, str) else tuple(channels)
    ps = (space or table1_space()).with_total(n_fish)
    params = sample_parameters(ps, seed)
    geo_rng, noise_rng = _spawned(seed + 7919, 2)  # apart from make_survey's streams
    lengths = geo_rng.integers(lo, hi + 1, n_fish)
    first, n_pings = _schedule(lengths, geo_rng, fish_per_ping)
    clearance = separation + 2 * drift * hi  # apart at every ping, whatever the drift
    base = _ranges(first, lengths, geo_rng, min_range, max_range - drift * hi, clearance)
    # one row per echo: fish k in pings first[k] .. first[k] + lengths[k] - 1
    fish = np.repeat(np.arange(n_fish), lengths)
    step = np.concatenate([np.arange(n) for n in lengths])
    ping = first[fish] + step
    direction = geo_rng.choice([-1.0, 1.0], n_fish)
    fraction = np.where(lengths[fish] > 1, step / np.maximum(lengths[fish] - 1, 1), 0.5)
    along = direction[fish] * max_angle * (2 * fraction - 1) * 0.9
    athwart = geo_rng.uniform(-0.5, 0.5, n_fish)[fish] * max_angle
    drift_per_ping = geo_rng.uniform(-drift, drift, n_fish)
    ranges = base[fish] + drift_per_ping[fish] * step
    theta = np.clip(params["theta"][fish] + geo_rng.normal(0, tilt_sd, fish.size), 0.01, 90.0)
    echo_params = {k: np.asarray(v)[fish] for k, v in params.items()}
    echo_params["theta"] = theta
    frequency = analysis_grid(chans, ts_step)
    ts, messages = simulate_ts(simulator, frequency, echo_params, progress)
    if ts_noise_db > 0:
        ts = ts + noise_rng.normal(0.0, ts_noise_db, ts.shape)
    targets = [
        SyntheticTarget(
            int(ping[i]),
            float(ranges[i]),
            float(along[i]),
            float(athwart[i]),
            frequency,
            ts[i],
            str(echo_params["kind"][i]),
            {k: float(echo_params[k][i]) for k in PARAMETER_NAMES},
            track=int(fish[i]),
        )
        for i in range(fish.size)
    ]
    targets.sort(key=lambda t: (t.ping, t.range))
    settings = SurveySettings(
        chans,
        SURVEY_WATER,
        max_range=max_range + 3.0,
        ping_interval=ping_interval,
        noise_db=noise_db,
    )
    notes = {
        "space": ps.describe(),
        "simulator_warnings": sorted(set(messages))[:20],
        "fish": n_fish,
        "pings_per_fish": [int(lo), int(hi)],
        "tilt_sd_deg": tilt_sd,
        "ts_noise_db": ts_noise_db,
        "separation_m": separation,
        "mean_theta_deg": [float(x) for x in params["theta"]],
    }
    return Survey(settings, targets, n_pings, seed, simulator=simulator, notes=notes)
