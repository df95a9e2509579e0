"""A synthetic seabed: an extended, rough echo at a known range (for seabed-detector tests).

The seabed is flat and normal to the beam axis at ``range`` (m). Its echo is the sum of
``n_scatterers`` point scatterers spread uniformly over the part of the seabed seen
within ``max_angle`` (deg) of the beam axis; each scatterer lies at range
``range / cos θ + h`` (θ its angle off the axis, h a Gaussian height of rms
``roughness`` m, which also randomises its phase at these wavelengths) and, with the
seabed's area backscattering strength ``sb`` (dB re 1 m² m⁻², flat in frequency), has
``σ_bs = 10^(sb/10) · A / n_scatterers`` with A the seabed area inside ``max_angle``.
Below the interface, ``n_volume`` scatterers fill ``volume_depth`` m of sediment with a
backscatter that falls by ``volume_decay`` dB per m and starts ``volume_contrast`` dB
below the interface's (the echo's decaying tail). The echoes pass the same beam pattern,
split-beam phases and receiver chain as any target (:func:`.echo.channel_ping`).

A ping's scatterers are drawn with ``numpy.random.default_rng([seed, 27, ping])`` and are
the same for every channel of that ping. With the defaults (sb −20 dB, 2 cm roughness) the
echo at 120 kHz FM peaks at an Sp of about −25 dB, like the real seabed pings of
``../shared/ek80/real``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ts_toolkit.errors import InvalidParameterError

from .echo import EchoTarget

FLAT = np.array([1.0, 1e7])  # Hz: a flat TS(f) needs two points


@dataclass(frozen=True)
class Seabed:
    """A flat rough seabed (see the module docstring); lengths in m, angles in deg,
    levels in dB."""

    range: float
    sb: float = -20.0
    roughness: float = 0.02
    max_angle: float = 5.0
    n_scatterers: int = 150
    n_volume: int = 50
    volume_depth: float = 0.5
    volume_decay: float = 20.0
    volume_contrast: float = 10.0

    def __post_init__(self) -> None:
        if not self.range > 0:
            raise InvalidParameterError(f"seabed range must be positive, got {self.range:g} m")
        if not 0 < self.max_angle <= 10:
            raise InvalidParameterError(
                f"seabed max_angle must be in (0, 10] deg, got {self.max_angle:g}"
            )
        if self.n_scatterers < 1 or self.n_volume < 0:
            raise InvalidParameterError("seabed needs at least one interface scatterer")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _disc(rng: np.random.Generator, n: int, max_angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Along- and athwartship angles (deg) of ``n`` points uniform over the seabed area
    seen within ``max_angle`` of the axis (uniform in tan θ over the disc)."""
    radius = np.tan(np.radians(max_angle)) * np.sqrt(rng.random(n))
    azimuth = 2 * np.pi * rng.random(n)
    x, y = radius * np.cos(azimuth), radius * np.sin(azimuth)
    return np.degrees(np.arctan(x)), np.degrees(np.arctan(y))


def seabed_echoes(seabed: Seabed, seed: int, ping: int) -> list[EchoTarget]:
    """The point scatterers of ``seabed`` in ping ``ping`` (0-based) of a survey drawn
    with ``seed``, as :class:`EchoTarget` objects."""
    rng = np.random.default_rng([seed, 27, ping])
    d = seabed.range
    area = np.pi * (d * np.tan(np.radians(seabed.max_angle))) ** 2
    sigma = 10 ** (seabed.sb / 10) * area / seabed.n_scatterers
    al, at = _disc(rng, seabed.n_scatterers, seabed.max_angle)
    off = np.hypot(np.tan(np.radians(al)), np.tan(np.radians(at)))
    ranges = d * np.sqrt(1 + off**2) + rng.normal(0.0, seabed.roughness, al.size)
    levels = np.full(al.size, 10 * np.log10(sigma))
    if seabed.n_volume:
        v_al, v_at = _disc(rng, seabed.n_volume, seabed.max_angle)
        v_off = np.hypot(np.tan(np.radians(v_al)), np.tan(np.radians(v_at)))
        depth = seabed.volume_depth * rng.random(seabed.n_volume)
        v_sigma = (
            10 ** ((seabed.sb - seabed.volume_contrast) / 10)
            * area
            / seabed.n_volume
            * seabed.volume_depth
            / max(seabed.roughness, 1e-3)
        )
        al = np.concatenate([al, v_al])
        at = np.concatenate([at, v_at])
        ranges = np.concatenate([ranges, (d + depth) * np.sqrt(1 + v_off**2)])
        levels = np.concatenate([levels, 10 * np.log10(v_sigma) - seabed.volume_decay * depth])
    return [
        EchoTarget(float(r), float(a), float(b), FLAT, np.array([lvl, lvl]))
        for r, a, b, lvl in zip(ranges, al, at, levels, strict=True)
    ]
