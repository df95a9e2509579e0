"""Synthetic Simrad EK80 ``.raw`` files with targets of known TS(f).

A writer for FM (broadband) complex split-beam data: configuration, filter, environment,
parameter and sample datagrams as the EK80 format defines them; echoes of point targets
with known TS(f), range and angles, computed so that the standard EK80 TS(f) processing
(Andersen et al. 2024) recovers them; receiver noise. See docs/synthetic.md.

The writer (every module here but :mod:`.ping`) imports neither echopype nor the reader's
processing chain (:mod:`..reader`, :mod:`..core`, :mod:`..pulse_compression`,
:mod:`..chirp` ...): reading back a written file is an independent check of both. It
shares only the plugin's physical helpers (water properties, absorption, beam pattern,
split-beam phases, filter stages). TS(f) comes from a Simulator plugin looked up through
:func:`ts_toolkit.plugins.get_simulator`, or is given directly. :mod:`.ping` makes
array-level pings for the chain's unit tests.
"""

from __future__ import annotations

from ..environment import Environment
from .echo import EchoTarget, channel_ping
from .seabed import Seabed, seabed_echoes
from .settings import (
    SURVEY_WATER,
    TRANSDUCERS,
    ChannelSettings,
    SurveySettings,
    TransducerModel,
    default_channels,
    transducer,
)
from .survey import Survey, SyntheticTarget, make_survey, write_raw
from .truth import truth_dataset, write_truth

__all__ = [
    "SURVEY_WATER",
    "TRANSDUCERS",
    "ChannelSettings",
    "EchoTarget",
    "Environment",
    "Survey",
    "Seabed",
    "SurveySettings",
    "SyntheticTarget",
    "TransducerModel",
    "channel_ping",
    "default_channels",
    "make_survey",
    "seabed_echoes",
    "transducer",
    "truth_dataset",
    "write_raw",
    "write_truth",
]
