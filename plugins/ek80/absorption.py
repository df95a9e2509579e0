"""Sound absorption in sea water: Francois & Garrison (1982, JASA 72:1879).

Boric acid, magnesium sulphate and pure-water contributions; valid about 0.2–1000 kHz,
−2–22 °C, 30–35 PSU, depth 0–3500 m.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def francois_garrison(
    frequency: npt.ArrayLike,
    temperature: float,
    salinity: float,
    depth: float,
    ph: float = 8.0,
    sound_speed: float | None = None,
) -> np.ndarray:
    """Absorption coefficient (dB/m) at ``frequency`` (Hz).

    ``temperature`` in °C, ``salinity`` in PSU, ``depth`` in m, ``sound_speed`` in m/s
    (the Francois–Garrison formula ``1412 + 3.21 T + 1.19 S + 0.0167 D`` when None).
    """
    f = np.asarray(frequency, dtype=float) / 1e3  # kHz inside the formula
    T, S, D = float(temperature), float(salinity), float(depth)
    c = 1412.0 + 3.21 * T + 1.19 * S + 0.0167 * D if sound_speed is None else float(sound_speed)
    theta = T + 273.0
    # boric acid
    a1 = 8.86 / c * 10 ** (0.78 * ph - 5.0)
    f1 = 2.8 * np.sqrt(S / 35.0) * 10 ** (4.0 - 1245.0 / theta)
    # magnesium sulphate
    a2 = 21.44 * S / c * (1.0 + 0.025 * T)
    p2 = 1.0 - 1.37e-4 * D + 6.2e-9 * D**2
    f2 = 8.17 * 10 ** (8.0 - 1990.0 / theta) / (1.0 + 0.0018 * (S - 35.0))
    # pure water
    p3 = 1.0 - 3.83e-5 * D + 4.9e-10 * D**2
    if T <= 20.0:
        a3 = 4.937e-4 - 2.59e-5 * T + 9.11e-7 * T**2 - 1.50e-8 * T**3
    else:
        a3 = 3.964e-4 - 1.146e-5 * T + 1.45e-7 * T**2 - 6.5e-10 * T**3
    f_sq = f * f
    alpha_db_per_km = (
        a1 * f1 * f_sq / (f1**2 + f_sq) + a2 * p2 * f2 * f_sq / (f2**2 + f_sq) + a3 * p3 * f_sq
    )
    return alpha_db_per_km / 1e3
