"""Input validated up front: the parameter-space schema, its limits, and option values.

Each bad input gives one line ``error: ...`` with exit status 2, before anything is
written; property-based tests (hypothesis) generate spaces and option values to check that
nothing else ever happens (no traceback, no hang, no output file).
"""

from __future__ import annotations

import math
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_learn_cli import run_cli

from ts_toolkit.checks import check_scheduler, check_seed, check_workers
from ts_toolkit.errors import InvalidParameterError, TsToolkitError
from ts_toolkit.parameters import (
    MAX_FREQUENCIES,
    MAX_TARGETS,
    ParameterSpace,
    load_space,
    space_from_mapping,
)

FAST = ["--simulator", "stanton-sphere", "--scheduler", "synchronous"]


def _space_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "space.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ('[kinds.gas]\ncount = "ten"\n', "kinds.gas.count: expected a whole number, got 'ten'"),
        ('[frequency]\nstep = "fine"\n', "frequency.step: expected a number, got 'fine'"),
        ("[kinds.gas]\ncount = 2.9\n", "kinds.gas.count: expected a whole number, got 2.9"),
        ("[kinds.gas]\ncount = 1e15\n", f"above the limit of {MAX_TARGETS:,} targets"),
        ("[kinds.gas]\ncount = 1e30\n", f"above the limit of {MAX_TARGETS:,} targets"),
        (
            '[kinds.liquid]\nrho_s = { min = 1.01, max = 1.07, relative = "false" }\n',
            "kinds.liquid.rho_s.relative: expected true or false",
        ),
        ("[frequncy]\nstep = 1.0\n", "unknown table [frequncy]; did you mean 'frequency'?"),
        ("[waterr]\nrho = 1000.0\n", "unknown table [waterr]; did you mean 'water'?"),
        ("[water]\nrhoo = 1000.0\n", "water: unknown keys ['rhoo']; did you mean 'rho'?"),
        (
            "[kinds.gass]\ncount = 3\n",
            "unknown target kind 'gass' ([kinds.gass]); did you mean 'gas'?",
        ),
        ("[kinds.gas]\nReq_m = 0.001\n", "did you mean 'Req'?"),
        (
            '[kinds.gas]\nalpha = { min = 1, max = 2, distribution = "loguniform" }\n',
            "did you mean 'log-uniform'?",
        ),
        ("[kinds.gas]\nrho_s = { min = -5, max = 80 }\n", "rho_s (target density) must be > 0"),
        ("[kinds.gas]\nc_s = -343.0\n", "c_s (target sound speed) must be > 0"),
        ("[water]\nrho = nan\n", "water.rho: must be finite"),
        ("[water]\nc = -1500.0\n", "water sound speed c_w must be a finite number > 0"),
        ("[kinds.gas]\ntheta = inf\n", "kinds.gas.theta: must be finite"),
        (
            "[frequency]\nstep = 0.0001\n",
            f"2,500,001 points, above the limit of {MAX_FREQUENCIES:,}",
        ),
        ("[kinds.gas]\nReq = { min = 1e-3, max = 2e-3, relative = true }\n", "cannot be relative"),
        ('seed = "one"\n', "seed: expected a whole number"),
        ("seed = -3\n", "seed: must be between 0 and"),
        ('[frequency]\nbands = "34-45 kHz"\nstart = 30\n', "either 'bands' or 'start'"),
        ('[frequency]\nbands = "3.4.5-45 kHz"\n', "cannot parse frequency band"),
        ("kinds = 3\n", "kinds: expected a table"),
    ],
)
def test_bad_space_is_one_error_naming_the_key(tmp_path, text, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        load_space(_space_file(tmp_path, text))


def test_valid_numbers_are_still_accepted(tmp_path):
    space = load_space(
        _space_file(
            tmp_path,
            "seed = 7\n[frequency]\nstart = 30\nstop = 40\nstep = 1\n"
            "[kinds.gas]\ncount = 1e3\nc_s = 343\n"
            "rho_s = { value = 1.2, relative = false }\n",
        )
    )
    assert space.n_targets == 1000 and space.frequency.size == 11
    assert space.extra["seed"] == 7


def test_limits_hold_for_spaces_made_in_code():
    space = space_from_mapping({"kinds": {"gas": {"count": 10}}})
    with pytest.raises(InvalidParameterError, match="limit"):
        space.with_total(MAX_TARGETS + 1)
    with pytest.raises(InvalidParameterError, match="limit"):
        ParameterSpace(space.frequency.repeat(50), space.kinds)


@pytest.mark.parametrize(
    "text",
    [
        "[kinds.gas]\ncount = 4\nrho_s = { min = -5, max = 80 }\n",
        "[water]\nrho = nan\n[kinds.gas]\ncount = 4\n",
        "[water]\nc = -1500.0\n[kinds.gas]\ncount = 4\n",
        "[frequency]\nstep = 0.0001\n[kinds.gas]\ncount = 4\n",
        '[kinds.gas]\ncount = "ten"\n',
        "[frequncy]\nstep = 1.0\n",
    ],
)
def test_simulate_refuses_a_bad_space_before_writing(tmp_path, text):
    out = tmp_path / "out.nc"
    r = run_cli("simulate", "--space", _space_file(tmp_path, text), "--out", out, *FAST)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not out.exists() and not (tmp_path / "out.nc.parts").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "-1"], "--workers must be at least 1, got -1"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--seed", "-1"], "--seed must be a whole number >= 0|--seed must be at least 0"),
        (["--seed", str(2**40)], "--seed must be at most"),
        (["--chunk-size", "0"], "--chunk-size must be at least 1"),
        (["--n", "0"], "--n must be at least 1"),
    ],
)
def test_simulate_option_values_are_checked(tmp_path, args, message):
    out = tmp_path / "out.nc"
    r = run_cli("simulate", "--out", out, "--n", "2", *FAST, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert any(m in lines[0] for m in message.split("|")), lines
    assert not out.exists()


def test_workers_minus_one_does_not_hang(tmp_path):
    """It hung for ever at 0/4 (a local dask cluster of -1 workers)."""
    out = tmp_path / "out.nc"
    cmd = [sys.executable, "-m", "ts_toolkit", "simulate", "--out", str(out), "--n", "4"]
    r = subprocess.run(
        [*cmd, "--workers", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: --workers must be at least 1, got -1"]


@pytest.mark.parametrize("scheduler", ["bogus", "proceses", "tcp://host", "tcp://h:99999", "h:1"])
def test_unknown_scheduler_is_one_line(tmp_path, scheduler):
    out = tmp_path / "out.nc"
    r = run_cli("simulate", "--out", out, "--n", "2", "--scheduler", scheduler)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --scheduler {scheduler!r}"), lines
    assert not out.exists()
    if scheduler == "proceses":
        assert "did you mean 'processes'?" in lines[0]


def test_batch_and_train_check_their_options(tmp_path):
    raw = tmp_path / "a.raw"
    raw.write_text("x")
    model = tmp_path / "m.tsm"
    model.write_text("x")
    out = tmp_path / "c.nc"
    for args, message in (
        (["--workers", "0"], "--workers must be at least 1"),
        (["--scheduler", "bogus"], "--scheduler 'bogus'"),
    ):
        r = run_cli("batch", raw, "--model", model, "--out", out, *args)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("train", raw, "--seed", "-1", "--out", tmp_path / "m2.tsm")
    assert r.returncode == 2 and r.stderr.startswith("error: --seed must be at least 0")
    assert not out.exists() and not (tmp_path / "m2.tsm").exists()


def test_option_checks_accept_what_they_should():
    assert check_workers(None) is None and check_workers(3) == 3
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    for name in (None, "processes", "threads", "synchronous", "tcp://127.0.0.1:8786"):
        assert check_scheduler(name) == name
    assert check_scheduler("tls://scheduler.cluster.org:8786")
    assert check_scheduler("tcp://[::1]:8786")


# ----------------------------------------------------------------- property-based tests

_names = st.sampled_from(
    [
        "seed",
        "frequency",
        "frequncy",
        "water",
        "waterr",
        "kinds",
        "gas",
        "liquid",
        "fish",
        "count",
        "Req",
        "alpha",
        "rho_s",
        "c_s",
        "theta",
        "min",
        "max",
        "value",
        "relative",
        "distribution",
        "same_factor_as",
        "bands",
        "start",
        "stop",
        "step",
        "rho",
        "c",
    ]
)
_scalars = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=300),
    st.booleans(),
    st.text(alphabet=string.ascii_letters + string.digits + " -.,", max_size=12),
    st.sampled_from(["uniform", "log-uniform", "rho_s", "c_s", "34-45 kHz", "false", "true"]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.dictionaries(_names, children, max_size=4),
    max_leaves=12,
)
#: Mostly the valid layout with randomised leaves, sometimes anything at all.
_plausible = st.fixed_dictionaries(
    {},
    optional={
        "seed": _scalars,
        "frequency": st.dictionaries(
            st.sampled_from(["bands", "start", "stop", "step", "stepp"]), _scalars, max_size=3
        ),
        "water": st.dictionaries(st.sampled_from(["rho", "c", "cc"]), _scalars, max_size=2),
        "kinds": st.dictionaries(
            st.sampled_from(["gas", "liquid", "gass"]),
            st.dictionaries(
                st.sampled_from(["count", "Req", "alpha", "rho_s", "c_s", "theta"]),
                st.one_of(
                    _scalars,
                    st.dictionaries(
                        st.sampled_from(["min", "max", "value", "relative", "distribution"]),
                        _scalars,
                        max_size=4,
                    ),
                ),
                max_size=4,
            ),
            max_size=2,
        ),
    },
)
_spaces = st.one_of(_plausible, st.dictionaries(_names, _values, max_size=4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=_spaces)
def test_any_mapping_is_a_space_or_one_invalid_parameter_error(cfg):
    try:
        space = space_from_mapping(cfg)
    except InvalidParameterError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return
    assert 0 < space.frequency.size <= MAX_FREQUENCIES
    assert all(math.isfinite(v) and v > 0 for v in (space.rho_w, space.c_w))
    assert 0 <= space.n_targets <= MAX_TARGETS
    for kind in space.kinds:
        for dist in kind.parameters.values():
            assert math.isfinite(dist.minimum) and math.isfinite(dist.maximum)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    items = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
    return "{ " + items + " }"


def _toml(cfg: dict) -> str:
    """TOML text of a generated mapping: top-level tables as inline tables."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in cfg.items())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cfg=_plausible)
def test_simulate_cli_on_generated_space_files(tmp_path_factory, cfg):
    d = tmp_path_factory.mktemp("space")
    space, out = d / "space.toml", d / "out.nc"
    space.write_text(_toml(cfg))
    r = run_cli("simulate", "--space", space, "--out", out, "--n", "2", "--seed", "1", *FAST)
    assert "Traceback" not in r.stderr + r.stdout
    if r.returncode == 0:
        assert out.is_file()
        return
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not out.exists() and not (d / "out.nc.parts").exists()


_option_values = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.text(alphabet=string.ascii_letters + string.digits + "-.:/", min_size=1, max_size=10),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    option=st.sampled_from(["--workers", "--seed", "--chunk-size", "--n", "--scheduler"]),
    value=_option_values,
)
def test_simulate_cli_on_generated_option_values(tmp_path_factory, option, value):
    if option == "--scheduler" and value in ("processes", "threads"):
        value = "synchronous"  # valid, and no dask cluster to start in a unit test
    d = tmp_path_factory.mktemp("opt")
    out = d / "out.nc"
    args = ["simulate", "--out", out, "--simulator", "stanton-sphere"]
    if option != "--n":
        args += ["--n", "2"]
    if option != "--scheduler":
        args += ["--scheduler", "synchronous"]
    if option == "--n" and value.lstrip("-").isdigit() and int(value) > 50:
        value = "-" + value  # a valid count this large would simulate for a while
    r = run_cli(*args, option, value)
    assert "Traceback" not in r.stderr + r.stdout
    if r.returncode == 0:
        assert out.is_file()
        return
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not out.exists()


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30))
def test_scheduler_check_accepts_names_and_addresses_only(text):
    try:
        accepted = check_scheduler(text)
    except TsToolkitError as exc:
        assert "\n" not in str(exc)
        return
    assert accepted in ("processes", "threads", "synchronous") or accepted.startswith(
        ("tcp://", "tls://")
    )
