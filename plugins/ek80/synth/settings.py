"""Settings of a synthetic EK80 survey: transducers, channels, environment.

Presets describe common Simrad 7° split-beam (4-sector) transducers on a WBT transceiver
(base sampling rate 1.5 MHz, receiver impedance 5400 Ω, transducer impedance 75 Ω). Their
values are typical nominal values from manufacturer specifications and public EK80 files,
not a particular instrument's calibration:

============  ========  =============  ==========  =======  ======  =====  ==========
preset        f_nom     FM band        pulse       power    gain    γ      decimation
============  ========  =============  ==========  =======  ======  =====  ==========
ES38-7        38 kHz    34-45 kHz      1.024 ms    2000 W   26.5    21.9   6 × 8
ES70-7C       70 kHz    45-90 kHz      2.048 ms     750 W   27.0    23.0   6 × 4
ES120-7C      120 kHz   90-170 kHz     2.048 ms     250 W   27.0    23.0   6 × 2
ES200-7C      200 kHz   160-260 kHz    1.024 ms     150 W   27.0    23.0   4 × 2
============  ========  =============  ==========  =======  ======  =====  ==========

(gain in dB at f_nom, γ = angle sensitivity in electrical degrees per degree at f_nom,
decimation = stage 1 × stage 2 factors, giving complex sample intervals of 32, 16, 8 and
5.33 µs). The decimated complex rate always exceeds the chirp bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ts_toolkit.errors import InvalidParameterError

from ..environment import Environment

WBT_SAMPLING_RATE = 1.5e6  # Hz
WBT_IMPEDANCE = 5400.0  # ohm, receiver (transceiver) impedance
TRANSDUCER_IMPEDANCE = 75.0  # ohm


@dataclass(frozen=True)
class TransducerModel:
    """A transducer type and the FM settings used with it.

    Frequencies in Hz, durations in s, power in W, gain in dB re 1 (on axis at
    ``frequency_nominal``), beam widths in deg (one-way −3 dB full width at
    ``frequency_nominal``), angle sensitivity in electrical deg per deg at
    ``frequency_nominal``, equivalent beam angle in dB re 1 sr.
    """

    name: str
    frequency_nominal: float
    f_start: float
    f_stop: float
    pulse_duration: float
    slope: float
    transmit_power: float
    max_power: float
    gain: float
    beamwidth: float
    angle_sensitivity: float
    equivalent_beam_angle: float
    decimation: tuple[int, int]
    pulse_durations_cw: tuple[float, ...] = (0.000256, 0.000512, 0.001024, 0.002048, 0.004096)
    pulse_durations_fm: tuple[float, ...] = (0.000512, 0.001024, 0.002048, 0.004096, 0.008192)

    @property
    def key(self) -> str:
        """Short name used on the command line: the nominal frequency in kHz (``"120"``)."""
        return f"{self.frequency_nominal / 1e3:g}"

    def gain_db(self, frequency: np.ndarray) -> np.ndarray:
        """On-axis gain (dB) at ``frequency`` (Hz): ``G_nom + 20 log10(f / f_nom)``."""
        return self.gain + 20.0 * np.log10(np.asarray(frequency, float) / self.frequency_nominal)

    def beamwidths(self, frequency: np.ndarray) -> np.ndarray:
        """One-way −3 dB beam width (deg) at ``frequency`` (Hz): ``BW_nom f_nom / f``."""
        return self.beamwidth * self.frequency_nominal / np.asarray(frequency, float)


TRANSDUCERS: dict[str, TransducerModel] = {
    m.key: m
    for m in (
        TransducerModel(
            "ES38-7",
            38e3,
            34e3,
            45e3,
            0.001024,
            0.0219,
            2000.0,
            4000.0,
            26.5,
            7.0,
            21.9,
            -20.6,
            (6, 8),
            pulse_durations_cw=(0.000256, 0.000512, 0.001024, 0.002048, 0.004096),
        ),
        TransducerModel(
            "ES70-7C",
            70e3,
            45e3,
            90e3,
            0.002048,
            0.0109,
            750.0,
            1000.0,
            27.0,
            7.0,
            23.0,
            -20.7,
            (6, 4),
            pulse_durations_cw=(0.000128, 0.000256, 0.000512, 0.001024, 0.002048),
        ),
        TransducerModel(
            "ES120-7C",
            120e3,
            90e3,
            170e3,
            0.002048,
            0.0109,
            250.0,
            500.0,
            27.0,
            7.0,
            23.0,
            -20.7,
            (6, 2),
            pulse_durations_cw=(0.000064, 0.000128, 0.000256, 0.000512, 0.001024),
        ),
        TransducerModel(
            "ES200-7C",
            200e3,
            160e3,
            260e3,
            0.001024,
            0.0219,
            150.0,
            300.0,
            27.0,
            7.0,
            23.0,
            -20.7,
            (4, 2),
            pulse_durations_cw=(0.000064, 0.000128, 0.000256, 0.000512, 0.001024),
        ),
    )
}


def transducer(key: str) -> TransducerModel:
    """The preset for ``key``: nominal kHz (``"120"``) or name (``"ES120-7C"``)."""
    k = key.strip()
    if k in TRANSDUCERS:
        return TRANSDUCERS[k]
    for model in TRANSDUCERS.values():
        if model.name.lower() == k.lower():
            return model
    known = ", ".join(f"{m.key} ({m.name})" for m in TRANSDUCERS.values())
    raise InvalidParameterError(f"unknown channel {key!r}; known: {known}")


#: The water of the synthetic surveys: sound speed from Mackenzie (1981), about 1483 m/s.
SURVEY_WATER = Environment(sound_speed=None, temperature=8.0, salinity=35.0, depth=20.0)


@dataclass(frozen=True)
class ChannelSettings:
    """One transceiver channel with its transducer.

    ``transceiver_serial`` and ``channel_number`` build the EK80 channel id
    ``"WBT <serial>-<n> <transducer name>"``. Angle offsets (deg) default to 0 (a perfectly
    aligned transducer). ``calibration_step`` (Hz) spaces the FrequencyPar table.

    ``file_gain_error`` (dB) and ``file_beamwidth_factor`` make the calibration the file
    carries (nominal gain and beam widths, FrequencyPar table) differ from the transducer
    the echoes are made with: the file's gain is the true gain plus ``file_gain_error``, its
    beam widths the true ones times ``file_beamwidth_factor`` (a mis-calibrated file, for
    testing a sphere calibration against ground truth).
    """

    model: TransducerModel
    transceiver_serial: int = 745001
    channel_number: int = 1
    transducer_serial: int = 1001
    offset_along: float = 0.0
    offset_athwart: float = 0.0
    calibration_step: float = 500.0
    fs: float = WBT_SAMPLING_RATE
    z_receiver: float = WBT_IMPEDANCE
    z_transducer: float = TRANSDUCER_IMPEDANCE
    n_sectors: int = 4
    file_gain_error: float = 0.0
    file_beamwidth_factor: float = 1.0

    @property
    def channel_id(self) -> str:
        return f"WBT {self.transceiver_serial}-{self.channel_number} {self.model.name}"

    @property
    def decimation(self) -> tuple[int, int]:
        return self.model.decimation

    @property
    def sample_interval(self) -> float:
        """Interval (s) of the recorded (decimated) complex samples."""
        return float(np.prod(self.decimation)) / self.fs

    def calibration_frequencies(self) -> np.ndarray:
        """Integer frequencies (Hz) of the FrequencyPar table, spanning the FM band."""
        m = self.model
        n = int(round((m.f_stop - m.f_start) / self.calibration_step)) + 1
        return np.round(np.linspace(m.f_start, m.f_stop, n))


@dataclass(frozen=True)
class SurveySettings:
    """Channels, environment and ping geometry of a synthetic survey.

    ``max_range`` (m): last recorded range; ``ping_interval`` (s); ``noise_db``: receiver
    noise power (dB re 1 W, see docs/synthetic.md; None for no noise).
    """

    channels: tuple[ChannelSettings, ...]
    environment: Environment = SURVEY_WATER
    max_range: float = 30.0
    ping_interval: float = 1.0
    noise_db: float | None = -150.0

    def __post_init__(self) -> None:
        if not self.channels:
            raise InvalidParameterError("a survey needs at least one channel")
        ids = [c.channel_id for c in self.channels]
        if len(set(ids)) != len(ids):
            raise InvalidParameterError(f"duplicate channels: {ids}")
        if self.max_range <= 0:
            raise InvalidParameterError(f"max range must be > 0 m, got {self.max_range:g}")


def default_channels(keys: str | list[str] = "70,120,200") -> tuple[ChannelSettings, ...]:
    """Channels for comma-separated preset keys, one WBT per channel (serials 745001...)."""
    items = [k for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
    if not items:
        raise InvalidParameterError("no channels given; use e.g. --channels 70,120,200")
    out = []
    for i, key in enumerate(items):
        model = transducer(key)
        out.append(
            ChannelSettings(
                model, transceiver_serial=745001 + i, channel_number=1, transducer_serial=1001 + i
            )
        )
    keys_seen = [c.model.key for c in out]
    if len(set(keys_seen)) != len(keys_seen):
        raise InvalidParameterError(f"channel given twice in {items}")
    return tuple(out)
