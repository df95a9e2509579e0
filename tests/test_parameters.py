"""Parameter spaces: the paper's Table I, TOML spaces, seeded sampling."""

from __future__ import annotations

import numpy as np
import pytest

from ts_toolkit.errors import InputFileError, InvalidParameterError
from ts_toolkit.parameters import (
    load_space,
    parse_bands,
    sample_parameters,
    table1_space,
)


def test_table1_is_the_paper_table():
    space = table1_space()
    f = space.frequency
    assert f.size == 501 and f[0] == 10e3 and f[-1] == 260e3
    assert np.allclose(np.diff(f), 500.0)
    assert (space.rho_w, space.c_w) == (1027.0, 1500.0)
    kinds = {k.kind: k for k in space.kinds}
    assert kinds["gas"].count == 15_000 and kinds["liquid"].count == 15_000
    gas, liq = kinds["gas"].parameters, kinds["liquid"].parameters
    assert (gas["Req"].minimum, gas["Req"].maximum) == (0.1e-3, 5e-3)
    assert (liq["Req"].minimum, liq["Req"].maximum) == (5e-3, 20e-3)
    for p in (gas, liq):
        assert (p["alpha"].minimum, p["alpha"].maximum) == (1.05, 8.0)
        assert (p["theta"].minimum, p["theta"].maximum) == (0.01, 90.0)
    assert (gas["rho_s"].minimum, gas["rho_s"].maximum) == (2.0, 80.0)
    assert gas["c_s"].minimum == gas["c_s"].maximum == 343.0
    for name in ("rho_s", "c_s"):
        assert liq[name].relative and (liq[name].minimum, liq[name].maximum) == (1.01, 1.07)


def test_sampling_respects_ranges_and_relations():
    params = sample_parameters(table1_space(2000, 2000), seed=5)
    gas = params["kind"] == "gas"
    liq = ~gas
    assert gas.sum() == 2000 and liq.sum() == 2000

    def within(x, lo, hi):
        return np.all(x >= lo) and np.all(x <= hi)

    assert within(params["Req"][gas], 0.1e-3, 5e-3)
    assert within(params["Req"][liq], 5e-3, 20e-3)
    assert within(params["alpha"], 1.05, 8.0)
    assert within(params["theta"], 0.01, 90.0)
    assert within(params["rho_s"][gas], 2.0, 80.0)
    assert np.all(params["c_s"][gas] == 343.0)
    assert within(params["rho_s"][liq], 1.01 * 1027, 1.07 * 1027)
    assert within(params["c_s"][liq], 1.01 * 1500, 1.07 * 1500)
    b = params["Req"] / params["alpha"] ** (1 / 3)
    np.testing.assert_allclose(params["b"], b, rtol=1e-14)
    np.testing.assert_allclose(params["a"], params["alpha"] * b, rtol=1e-14)
    np.testing.assert_allclose(params["a"] * params["b"] ** 2, params["Req"] ** 3, rtol=1e-12)
    # uniform draws actually spread over the range
    assert params["theta"].min() < 2 and params["theta"].max() > 88


def test_sampling_is_reproducible_bit_for_bit():
    a = sample_parameters(table1_space(50, 50), seed=11)
    b = sample_parameters(table1_space(50, 50), seed=11)
    c = sample_parameters(table1_space(50, 50), seed=12)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert not np.array_equal(a["Req"], c["Req"])


def test_with_total_splits_in_proportion():
    space = table1_space().with_total(1001)
    assert [k.count for k in space.kinds] == [501, 500]


def test_bands_union():
    f = parse_bands("34-45,55-90,90-170,160-260 kHz", 500.0)
    assert f[0] == 34e3 and f[-1] == 260e3
    assert np.all(np.diff(f) > 0)
    assert 50e3 not in f and 45e3 in f and 55e3 in f
    assert np.sum(f == 165e3) == 1
    with pytest.raises(InvalidParameterError, match="cannot parse"):
        parse_bands("34 to 45 kHz", 500.0)


def test_toml_space(tmp_path):
    p = tmp_path / "space.toml"
    p.write_text(
        'seed = 4\n[frequency]\nbands = "34-45,55-90 kHz"\nstep = 1.0\n'
        "[water]\nrho = 1025.0\nc = 1490.0\n"
        "[kinds.gas]\ncount = 7\n"
        'alpha = { min = 2, max = 4, distribution = "log-uniform" }\n'
        "theta = 45.0\n"
    )
    space = load_space(p)
    assert [k.kind for k in space.kinds] == ["gas"]
    assert space.frequency.size == 12 + 36
    assert space.extra["seed"] == 4
    params = sample_parameters(space, 4)
    assert params["alpha"].size == 7
    assert np.all((params["alpha"] >= 2) & (params["alpha"] <= 4))
    assert np.all(params["theta"] == 45.0)
    assert np.all(params["rho_w"] == 1025.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[kinds.fish]\ncount = 3\n", "unknown target kind 'fish'"),
        ("[kinds.gas]\nalpha = { min = 3, max = 2 }\n", "kinds.gas.alpha: .*larger than max"),
        ("[kinds.gas]\ntheta = { min = 0, max = 120 }\n", "theta must lie within 0-90"),
        ("[kinds.gas]\nsize = 3\n", "unknown keys \\['size'\\]"),
        ("[kinds.gas\n", "cannot parse .* as TOML"),
        (
            '[kinds.liquid]\ntheta = { same_factor_as = "rho_s" }\n',
            "theta cannot take the factor of 'rho_s'",
        ),
        (
            '[kinds.liquid]\nc_s = { same_factor_as = "rho_s", min = 1 }\n',
            "same_factor_as stands alone",
        ),
        (
            '[kinds.liquid]\nc_s = { same_factor_as = "rho_s" }\n'
            'rho_s = { same_factor_as = "c_s" }\n',
            "cannot both take the other's factor",
        ),
    ],
)
def test_bad_space_files(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises((InvalidParameterError, InputFileError), match=message):
        load_space(p)


def test_tied_sound_speed_keeps_every_other_draw(tmp_path):
    """c_s = { same_factor_as = "rho_s" }: h = g target by target, and the other parameters
    (theta drawn after c_s included) are those of the untied space with the same seed."""
    p = tmp_path / "tied.toml"
    p.write_text(
        '[kinds.gas]\ncount = 20\n[kinds.liquid]\ncount = 30\nc_s = { same_factor_as = "rho_s" }\n'
    )
    tied_space = load_space(p)
    untied = sample_parameters(table1_space(20, 30), 3)
    tied = sample_parameters(tied_space, 3)
    liquid = tied["kind"] == "liquid"
    np.testing.assert_allclose(
        tied["c_s"][liquid] / 1500.0, tied["rho_s"][liquid] / 1027.0, rtol=1e-15
    )
    for key in ("Req", "alpha", "a", "b", "theta", "rho_s"):
        np.testing.assert_array_equal(tied[key], untied[key])
    np.testing.assert_array_equal(tied["c_s"][~liquid], untied["c_s"][~liquid])
    assert not np.allclose(tied["c_s"][liquid], untied["c_s"][liquid])
    # the tie is part of the space's description (and so of its resume hash); Table I's is unchanged
    liquid_desc = tied_space.describe()["kinds"][1]["parameters"]["c_s"]
    assert liquid_desc["same_factor_as"] == "rho_s"
    assert tied_space.fingerprint() != table1_space(20, 30).fingerprint()
    assert "same_factor_as" not in str(table1_space().describe())


def test_the_tied_table1_example_space():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "spaces" / "table1-tied.toml"
    space = load_space(path)
    table1 = table1_space()
    assert [k.count for k in space.kinds] == [k.count for k in table1.kinds]
    np.testing.assert_array_equal(space.frequency, table1.frequency)
    gas, liquid = space.kinds
    assert gas.parameters == table1.kinds[0].parameters
    assert liquid.parameters["c_s"].same_factor_as == "rho_s"
    assert liquid.parameters["rho_s"] == table1.kinds[1].parameters["rho_s"]
