"""Load a single EK80 FM ping from the CRIMAC-Raw-To-Svf-TSf JSON layout.

The CRIMAC project (github.com/CRIMAC-WP4-Machine-learning/CRIMAC-Raw-To-Svf-TSf,
``Data/CRIMAC_TSf.json``) exports one ping as JSON: ``XML0`` (transceiver, transducer,
calibration table ``FrequencyPar``, environment, ping parameters), ``FIL1`` (filter
stages) and ``RAW3`` (complex samples per quadrant). This module turns it into a
:class:`~.core.ChannelPing` so the array-based chain can run on it without echopype.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .calibration import Calibration
from .core import ChannelPing
from .environment import Environment
from .filters import FilterStage

if TYPE_CHECKING:  # the synth package is slow to import; only the writer needs it
    from .synth.recorded import ChannelRecord


def _arr(value: object) -> np.ndarray:
    if isinstance(value, str):
        return np.array(value.strip("[]").split(), dtype=float)
    return np.asarray(value, dtype=float)


def load_crimac_ping(path: str | Path) -> ChannelPing:
    """The ping stored in a CRIMAC JSON file as a :class:`ChannelPing`."""
    return crimac_ping(json.loads(Path(path).read_text()))


def _floats(value: object) -> tuple[float, ...]:
    if value is None:
        return ()
    return tuple(float(v) for v in np.atleast_1d(_arr(value)))


def crimac_record(d: dict) -> ChannelRecord:
    """What the CRIMAC JSON ``d`` says about the channel beyond its :class:`ChannelPing`
    (transducer name, equivalent beam angle, pulse-duration tables and their gains, power
    and band limits), for writing the ping to a ``.raw`` file."""
    from .synth.recorded import ChannelRecord

    xml = d["XML0"]
    trd, chans = xml["Transducer"], xml.get("Channels", {})
    name = str(d.get("COMMENTS", {}).get("Tranciever and Transducer", ""))
    words = name.split()
    eba = trd.get("EquivalentBeamAngle")
    power = trd.get("MaxTXPowerTransducer", chans.get("MaxTXPowerTransducer"))
    return ChannelRecord(
        transducer=words[-1] if len(words) >= 3 else None,
        equivalent_beam_angle=None if eba is None else float(eba),
        pulse_durations=_floats(chans.get("PulseDuration")),
        pulse_durations_fm=_floats(chans.get("PulseDurationFM")),
        gains=_floats(trd.get("Gain")),
        sa_corrections=_floats(trd.get("SaCorrection")),
        max_power=None if power is None else float(power),
        frequency_minimum=float(trd["FrequencyStart"]) if "FrequencyStart" in trd else None,
        frequency_maximum=float(trd["FrequencyEnd"]) if "FrequencyEnd" in trd else None,
    )


def load_crimac_record(path: str | Path) -> tuple[ChannelPing, ChannelRecord]:
    """The ping of a CRIMAC JSON file and its :class:`ChannelRecord`."""
    d = json.loads(Path(path).read_text())
    return crimac_ping(d), crimac_record(d)


def crimac_ping(d: dict) -> ChannelPing:
    """The ping of a parsed CRIMAC JSON document ``d`` as a :class:`ChannelPing`."""
    xml = d["XML0"]
    trd, par, env = xml["Transducer"], xml["Parameter"], xml["Environment"]
    stages = [
        FilterStage(
            np.asarray(s["coefficients"]["real"]) + 1j * np.asarray(s["coefficients"]["imag"]),
            int(s["decimationFactor"]),
        )
        for _, s in sorted(d["FIL1"].items(), key=lambda kv: int(kv[0]))
    ]
    quads = d["RAW3"]["quadrant_signals"]
    samples = np.stack(
        [np.asarray(quads[q]["real"]) + 1j * np.asarray(quads[q]["imag"]) for q in sorted(quads)]
    )
    fp = xml.get("FrequencyPar") or {}
    table = None
    if fp.get("frequencies"):
        table = {
            "frequency": _arr(fp["frequencies"]),
            "gain": _arr(fp["gain"]),
            "beamwidth_along": _arr(fp["beam_width_alongship"]),
            "beamwidth_athwart": _arr(fp["beam_width_athwartship"]),
            "offset_along": _arr(fp["angle_offset_alongship"]),
            "offset_athwart": _arr(fp["angle_offset_athwartship"]),
        }
    cal = Calibration(
        frequency_nominal=float(trd["Frequency"]),
        gain=float(trd["GainNom"]),
        beamwidth_along=float(trd["BeamWidthAlongship"]),
        beamwidth_athwart=float(trd["BeamWidthAthwartship"]),
        offset_along=float(trd["AngleOffsetAlongship"]),
        offset_athwart=float(trd["AngleOffsetAthwartship"]),
        sensitivity_along=float(trd["AngleSensitivityAlongship"]),
        sensitivity_athwart=float(trd["AngleSensitivityAthwartship"]),
        z_transducer=float(trd.get("z_trd", 75.0)),
        z_receiver=float(xml["Transceiver"].get("z_rx_e", 1000.0)),
        table=table,
    )
    n_sectors = samples.shape[0]
    return ChannelPing(
        samples=samples,
        sample_interval=float(par["SampleInterval"]),
        f_start=float(par["FrequencyStart"]),
        f_stop=float(par["FrequencyEnd"]),
        duration=float(par["PulseDuration"]),
        slope=float(par["Slope"]),
        transmit_power=float(par["TransmitPower"]),
        fs=float(xml["Transceiver"]["fs"]),
        stages=stages,
        beam_type=1 if n_sectors == 4 else (17 if n_sectors == 3 else 0),
        calibration=cal,
        environment=Environment(
            sound_speed=float(env["SoundSpeed"]),
            temperature=float(env["Temperature"]),
            salinity=float(env["Salinity"]),
            depth=float(env["Depth"]),
            acidity=float(env.get("Acidity", 8.0)),
            latitude=float(env.get("Latitude", 60.0)),
        ),
        sample_offset=int(d["RAW3"].get("offset", 0)),
        channel=str(d.get("COMMENTS", {}).get("Tranciever and Transducer", "")),
        ping_time=par.get("PingTime"),
    )
