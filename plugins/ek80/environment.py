"""Water properties of an EK80 file or synthetic survey, and what follows from them.

One :class:`Environment` serves the reader (values from the file's Environment XML), the
CRIMAC JSON loader and the synthetic writer (values it writes). Sound speed is the file's
(or given) value, or Mackenzie (1981) from temperature, salinity and depth when None;
absorption is Francois & Garrison (1982), :mod:`.absorption`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .absorption import francois_garrison


@dataclass(frozen=True)
class Environment:
    """Temperature (°C), salinity (PSU), depth (m, for absorption), acidity (pH),
    latitude (deg) and sound speed (m/s; None: Mackenzie 1981 from T, S and depth)."""

    sound_speed: float | None = 1500.0
    temperature: float = 10.0
    salinity: float = 35.0
    depth: float = 0.0
    acidity: float = 8.0
    latitude: float = 60.0

    @property
    def c(self) -> float:
        """Sound speed (m/s)."""
        if self.sound_speed is not None:
            return float(self.sound_speed)
        return mackenzie_sound_speed(self.temperature, self.salinity, self.depth)

    def absorption(self, frequency: npt.ArrayLike) -> np.ndarray:
        """Absorption coefficient (dB/m) at ``frequency`` (Hz); read-only, computed once per
        environment and frequencies (every ping of a channel asks for the same)."""
        f = np.asarray(frequency, dtype=float)
        water = (self.temperature, self.salinity, self.depth, self.acidity, self.c)
        return _absorption(f.tobytes(), f.shape, *water)


def mackenzie_sound_speed(temperature: float, salinity: float, depth: float) -> float:
    """Sound speed in sea water (m/s), Mackenzie (1981): T (°C), S (PSU), depth (m)."""
    t, s, d = temperature, salinity, depth
    return float(
        1448.96
        + 4.591 * t
        - 5.304e-2 * t**2
        + 2.374e-4 * t**3
        + 1.340 * (s - 35)
        + 1.630e-2 * d
        + 1.675e-7 * d**2
        - 1.025e-2 * t * (s - 35)
        - 7.139e-13 * t * d**3
    )


@lru_cache(maxsize=256)
def _absorption(
    frequency: bytes,
    shape: tuple[int, ...],
    temperature: float,
    salinity: float,
    depth: float,
    acidity: float,
    sound_speed: float,
) -> np.ndarray:
    """:func:`.absorption.francois_garrison` at the float64 ``frequency`` (bytes) of
    ``shape``; an array result is read-only (it is shared)."""
    f = np.frombuffer(frequency, dtype=float).reshape(shape)
    alpha = francois_garrison(f, temperature, salinity, depth, acidity, sound_speed)
    if isinstance(alpha, np.ndarray):
        alpha.flags.writeable = False
    return alpha
