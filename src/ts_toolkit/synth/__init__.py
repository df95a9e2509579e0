"""Synthetic Simrad EK80 ``.raw`` files with targets of known TS(f) (issue 7).

A writer for FM (broadband) complex split-beam data: configuration, filter, environment,
parameter and sample datagrams as the EK80 format defines them; echoes of point targets
with known TS(f), range and angles, computed so that the standard EK80 TS(f) processing
(Andersen et al. 2024) recovers them; receiver noise. See docs/synthetic.md.

Nothing here imports echopype or any plugin by name; TS(f) comes from a Simulator plugin
looked up through :func:`ts_toolkit.plugins.get_simulator`, or is given directly.
"""

from __future__ import annotations

from .echo import EchoTarget, channel_ping
from .seabed import Seabed, seabed_echoes
from .settings import (
    TRANSDUCERS,
    ChannelSettings,
    Environment,
    SurveySettings,
    TransducerModel,
    default_channels,
    transducer,
)
from .survey import Survey, SyntheticTarget, make_survey, write_raw
from .truth import match_targets, truth_dataset, write_truth

__all__ = [
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
    "match_targets",
    "transducer",
    "truth_dataset",
    "write_raw",
    "write_truth",
]
