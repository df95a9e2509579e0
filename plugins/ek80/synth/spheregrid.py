"""A synthetic sphere calibration: a calibration sphere moved through the beam over pings.

As in a real FM calibration, the sphere hangs at a (nearly) fixed range and is steered
over a grid of angles, one position per ping, so that both the on-axis gain and the beam
pattern can be estimated. The echoes are made with the transducer's true gain and beam
widths; the file's own calibration can be made wrong on purpose (``gain_error`` dB added
to its gain, beam widths times ``beamwidth_factor``, see
:class:`.settings.ChannelSettings`), so that ``ts-toolkit calibrate`` is tested against
ground truth. The sphere's TS(f) is the elastic-sphere model (:mod:`..sphere`) in the
survey's water.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ts_toolkit.errors import InvalidParameterError

from ..sphere import MATERIALS, sphere_ts_in_water
from .settings import SURVEY_WATER, ChannelSettings, SurveySettings, default_channels
from .survey import Survey, SyntheticTarget, _spawned, analysis_grid


def grid_angles(n: int, max_angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Alongship and athwartship angles (deg) of an ``n`` x ``n`` grid over
    [-``max_angle``, ``max_angle``]², row by row (a sphere steered in a raster)."""
    axis = np.linspace(-max_angle, max_angle, n)
    along, athwart = np.meshgrid(axis, axis, indexing="ij")
    return along.ravel(), athwart.ravel()


def make_sphere_survey(
    diameter: float = 0.0381,
    material: str = "wc",
    channels: str | Sequence[ChannelSettings] = "70",
    grid: int = 7,
    max_angle: float | None = None,
    sphere_range: float = 10.0,
    range_jitter: float = 0.02,
    gain_error: float = 0.0,
    beamwidth_factor: float = 1.0,
    noise_db: float | None = -150.0,
    seed: int = 1,
    ts_step: float = 250.0,
) -> Survey:
    """A survey of one sphere (``diameter`` m, ``material`` "wc" or "cu") at
    ``sphere_range`` m (± a uniform ``range_jitter`` m per ping) on a ``grid`` x ``grid``
    raster of angles up to ``max_angle`` deg off axis (default: 0.4 of the narrowest
    one-way beam width over the channels' bands, about 2 dB of two-way beam loss at the
    grid's edges), one position per ping. Every channel's file calibration is off by
    ``gain_error`` dB and ``beamwidth_factor`` (see the module docstring)."""
    key = material.lower()
    if key not in MATERIALS:
        raise InvalidParameterError(f"unknown sphere material {material!r}; known: wc, cu")
    if grid < 1:
        raise InvalidParameterError(f"grid must be at least 1, got {grid}")
    if beamwidth_factor <= 0:
        raise InvalidParameterError(f"beamwidth_factor must be > 0, got {beamwidth_factor:g}")
    chans = default_channels(channels) if isinstance(channels, str) else tuple(channels)
    chans = tuple(
        replace(c, file_gain_error=gain_error, file_beamwidth_factor=beamwidth_factor)
        for c in chans
    )
    if max_angle is None:
        narrowest = min(float(c.model.beamwidths(np.array([c.model.f_stop]))[0]) for c in chans)
        max_angle = 0.4 * narrowest
    env = SURVEY_WATER
    frequency = analysis_grid(chans, ts_step)
    ts = sphere_ts_in_water(frequency, diameter, key, env)
    along, athwart = grid_angles(grid, max_angle)
    (rng,) = _spawned(seed + 104729, 1)
    ranges = sphere_range + rng.uniform(-range_jitter, range_jitter, along.size)
    targets = [
        SyntheticTarget(
            i,
            float(ranges[i]),
            float(along[i]),
            float(athwart[i]),
            frequency,
            ts,
            "sphere",
            {"a": diameter / 2, "Req": diameter / 2},
        )
        for i in range(along.size)
    ]
    settings = SurveySettings(chans, env, max_range=sphere_range + 3.0, noise_db=noise_db)
    notes = {
        "sphere": f"{diameter * 1e3:g} mm {key.upper()}",
        "grid": f"{grid} x {grid}, up to {max_angle:.3g} deg",
        "file_gain_error_db": gain_error,
        "file_beamwidth_factor": beamwidth_factor,
    }
    return Survey(settings, targets, along.size, seed, notes=notes)
