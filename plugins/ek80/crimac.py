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

import numpy as np

from .calibration import Calibration
from .core import ChannelPing
from .environment import Environment
from .filters import FilterStage


def _arr(value: object) -> np.ndarray:
    if isinstance(value, str):
        return np.array(value.strip("[]").split(), dtype=float)
    return np.asarray(value, dtype=float)


def load_crimac_ping(path: str | Path) -> ChannelPing:
    """The ping stored in a CRIMAC JSON file as a :class:`ChannelPing`."""
    d = json.loads(Path(path).read_text())
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
        ),
        sample_offset=int(d["RAW3"].get("offset", 0)),
        channel=str(d.get("COMMENTS", {}).get("Tranciever and Transducer", "")),
        ping_time=par.get("PingTime"),
    )
