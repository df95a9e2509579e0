"""Frequency-dependent transducer parameters: from the file's calibration table when it
has one, from nominal values scaled with frequency otherwise.

Nominal scaling (Andersen et al. 2024; Demer et al. 2015): on-axis gain
``G(f) = G_nom + 20 log10(f / f_nom)`` (dB), beam widths ``BW(f) = BW_nom · f_nom / f``
(deg), angle offsets constant. With a table, each quantity the table holds is
interpolated linearly in frequency (held constant beyond the table's ends); quantities it
lacks fall back to nominal scaling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

TABLE_FIELDS = ("gain", "beamwidth_along", "beamwidth_athwart", "offset_along", "offset_athwart")


@dataclass
class Calibration:
    """Transducer/transceiver calibration of one channel.

    Attributes: nominal frequency (Hz); on-axis gain at it (dB re 1); one-way −3 dB beam
    widths and angle offsets (deg); angle sensitivities (electrical degree per degree);
    impedances (ohm); optional ``table``: {"frequency": Hz array, and any of
    :data:`TABLE_FIELDS` as arrays of the same length}.
    """

    frequency_nominal: float
    gain: float
    beamwidth_along: float
    beamwidth_athwart: float
    offset_along: float = 0.0
    offset_athwart: float = 0.0
    sensitivity_along: float = 0.0
    sensitivity_athwart: float = 0.0
    z_transducer: float = 75.0
    z_receiver: float = 1000.0
    table: dict[str, np.ndarray] | None = field(default=None)
    #: interpolated table values by (quantity, frequencies): every ping of a channel asks
    #: for the same ones (the table is not changed after it is made)
    _interpolated: dict[tuple[str, str, bytes], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.table is not None:
            f = np.asarray(self.table.get("frequency", []), float)
            ok = np.isfinite(f)
            clean: dict[str, np.ndarray] = {}
            for key in TABLE_FIELDS:
                if key in self.table and self.table[key] is not None:
                    v = np.asarray(self.table[key], float)
                    if v.shape == f.shape and np.isfinite(v[ok]).any():
                        clean[key] = v
            if ok.sum() >= 1 and "gain" in clean:
                order = np.argsort(f[ok])
                self.table = {"frequency": f[ok][order]}
                for key, v in clean.items():
                    self.table[key] = v[ok][order]
            else:
                self.table = None

    @property
    def source(self) -> str:
        """ "calibration table" or "nominal" (gain and beam widths scaled with frequency)."""
        return "calibration table" if self.table is not None else "nominal"

    def _get(self, key: str, frequency: np.ndarray, nominal: np.ndarray) -> np.ndarray:
        """The table's ``key`` interpolated at ``frequency`` (Hz, a float array; read-only,
        computed once per frequencies), or ``nominal`` when the table lacks it."""
        if self.table is not None and key in self.table:
            memo = (key, str(frequency.shape), frequency.tobytes())
            done = self.__dict__.setdefault("_interpolated", {})  # (also when unpickled)
            value = done.get(memo)
            if value is None:
                v = self.table[key]
                ok = np.isfinite(v)
                value = np.interp(frequency, self.table["frequency"][ok], v[ok])
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False
                if len(done) >= 256:  # a bound, should a caller vary the frequencies
                    done.clear()
                done[memo] = value
            return value
        return nominal

    def gain_db(self, frequency: npt.ArrayLike) -> np.ndarray:
        """On-axis gain (dB) at ``frequency`` (Hz)."""
        f = np.asarray(frequency, float)
        nominal = self.gain + 20.0 * np.log10(f / self.frequency_nominal)
        return self._get("gain", f, nominal)

    def beamwidths(self, frequency: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """One-way −3 dB beam widths (deg), alongship and athwartship."""
        f = np.asarray(frequency, float)
        scale = self.frequency_nominal / f
        return (
            self._get("beamwidth_along", f, self.beamwidth_along * scale),
            self._get("beamwidth_athwart", f, self.beamwidth_athwart * scale),
        )

    def offsets(self, frequency: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Angle offsets (deg), alongship and athwartship."""
        f = np.asarray(frequency, float)
        ones = np.ones_like(f)
        return (
            self._get("offset_along", f, self.offset_along * ones),
            self._get("offset_athwart", f, self.offset_athwart * ones),
        )


def impedance_factor(z_transducer: float, z_receiver: float) -> float:
    """``K_z = |z_rx + z_td|² / |z_rx|² / |z_td|`` (1/ohm) of the EK80 power formula
    (Andersen et al. 2024): transducer and receiver impedances in ohm."""
    return (abs(z_receiver + z_transducer) / abs(z_receiver)) ** 2 / abs(z_transducer)
