"""ek80 plugin on the real FM pings of ../shared/ek80/real (CRIMAC JSON layout): the seabed,
the single targets above it, and sphere-check finding the sphere by its TS(f).

Where the seabed of each ping is (established from its Sp profile,
scripts/plot_real_pings.py → docs/figures/ek80-real-pings.png):

- CRIMAC_SphereCentre: the echo rises from 12.3 m and peaks at 13.07 m (Sp −27 dB); the
  README puts the seabed at about 13 m;
- CRIMAC_TSf_singlefish_2022: the strongest echo of the ping peaks at 27.05 m (Sp −12 dB)
  and its second echo (via the ship's hull) peaks at 54.17 m ≈ 2 × 27.05 m, so the seabed
  is at 27.0 m; a weak plateau (Sp −50 to −60 dB) lies in the 1.5 m above it;
- pyEcholabEK80data: the echo rises from 33.3 m to its peak at 34.46 m (Sp −9 dB) with a
  long tail, and its second echo starts at 68.3 m ≈ 2 × 34.2 m.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SPHERE = "CRIMAC_SphereCentre.json"
FISH = "CRIMAC_TSf_singlefish_2022.json"
TWO_SPHERES = "pyEcholabEK80data.json"


@pytest.fixture
def real_dir(shared_dir: Path) -> Path:
    d = shared_dir / "ek80" / "real"
    if not d.is_dir():
        pytest.skip(f"real EK80 pings not found at {d}")
    return d


def _ping(real_dir: Path, name: str):
    from ts_toolkit_plugins.ek80.crimac import load_crimac_ping

    path = real_dir / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return load_crimac_ping(path)


def _process(ping, **settings):
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.detection import DetectionSettings

    return process_ping(ping, DetectionSettings(**settings))


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [(SPHERE, 12.7, 13.3), (FISH, 26.7, 27.3), (TWO_SPHERES, 33.5, 34.5)],
)
def test_seabed_of_real_pings_and_no_target_at_or_below_it(real_dir, name, low, high) -> None:
    ping = _ping(real_dir, name)
    result = _process(ping, min_ts=-90.0)
    assert low <= result.bottom <= high, result.seabed
    assert result.seabed is not None and result.seabed.sa > -27.0
    assert all(t["range"] < result.bottom - 0.5 for t in result.targets)
    assert all(t["bottom_range"] == result.bottom for t in result.targets)


def test_sphere_ping_seabed_at_13_m_and_only_the_sphere_kept(real_dir) -> None:
    ping = _ping(real_dir, SPHERE)
    result = _process(ping)
    assert 12.7 <= result.bottom <= 13.3
    assert [round(t["range"], 2) for t in result.targets] == [4.62]
    # without the seabed guard and the background criterion the seabed passes as a target
    # at 13.07 m: the guard is what removes it
    unguarded = _process(ping, bottom_sp=None, min_sbr=None)
    assert any(abs(t["range"] - 13.07) < 0.05 for t in unguarded.targets)


def test_real_fish_ping_one_target_at_12_m_and_no_seabed_echo(real_dir) -> None:
    ping = _ping(real_dir, FISH)
    result = _process(ping)  # extract's defaults: min_ts -50 dB
    (fish,) = result.targets
    assert fish["range"] == pytest.approx(12.0, abs=0.1)
    assert np.isfinite(fish["TS"]).all() and fish["TS"].size == 81  # 90-170 kHz, 1 kHz
    assert 26.7 <= result.bottom <= 27.3
    # unguarded, echoes of the seabed (27.05 m peak, its tail, its second echo at 54 m)
    # are reported as targets at this threshold; guarded, none is
    unguarded = _process(ping, bottom_sp=None, min_sbr=None)
    seabed_echoes = [t for t in unguarded.targets if t["range"] > 26.5]
    assert seabed_echoes
    guarded = _process(ping, min_sbr=None)
    assert [round(t["range"], 1) for t in guarded.targets] == [12.0]
    assert len(guarded.below_bottom) == len(seabed_echoes)
    # at a threshold fit for small organisms nothing at or below the seabed either
    weak = _process(ping, min_ts=-105.0)
    assert weak.targets and all(t["range"] < weak.bottom - 0.5 for t in weak.targets)


def test_38khz_ping_keeps_both_spheres_above_the_seabed(real_dir) -> None:
    result = _process(_ping(real_dir, TWO_SPHERES))
    ranges = [round(t["range"], 1) for t in result.targets]
    assert 14.3 in ranges and 19.3 in ranges
    assert all(r < 33.5 for r in ranges)


def _sphere_check(path: Path, diameter_mm: float):
    from ts_toolkit_plugins.ek80.spherecheck import sphere_check

    return sphere_check(path, diameter_mm * 1e-3)


def test_sphere_check_finds_the_on_axis_sphere_not_the_seabed(real_dir) -> None:
    check = _sphere_check(real_dir / SPHERE, 35.0)
    (echo,) = check.detections
    assert echo["range"] == pytest.approx(4.62, abs=0.05)
    assert check.stats()["median_abs"] <= 0.3
    assert "4.62 m" in check.selection and "not seabed" in check.selection


@pytest.mark.parametrize(("diameter", "at"), [(22.0, 14.3), (57.2, 19.35)])
def test_sphere_check_picks_the_right_one_of_two_spheres(real_dir, diameter, at) -> None:
    check = _sphere_check(real_dir / TWO_SPHERES, diameter)
    (echo,) = check.detections
    assert echo["range"] == pytest.approx(at, abs=0.1)
    assert check.stats()["median_abs"] <= 0.5
    # the other sphere is far off this one's theory (so the choice is not a coin toss)
    assert "the best other echo is" in check.selection


def test_sphere_check_on_a_file_without_a_sphere_fails_with_one_line(shared_dir) -> None:
    raw = shared_dir / "ek80" / "fm-wbtmini-38-200kHz-6pings.raw"
    if not raw.is_file():
        pytest.skip(f"{raw} not found")
    r = subprocess.run(
        [sys.executable, "-m", "ts_toolkit", "sphere-check", str(raw), "--diameter", "38.1"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: no echo matches a 38.1 mm WC sphere: best is ")
    assert " dB off at " in lines[0] and "Traceback" not in r.stderr


def test_sphere_check_with_a_range_window_keeps_the_old_behaviour(real_dir) -> None:
    from ts_toolkit_plugins.ek80.spherecheck import sphere_check

    check = sphere_check(real_dir / SPHERE, 0.035, range_min=4.0, range_max=5.5)
    assert [round(d["range"], 2) for d in check.detections] == [4.62]
    assert check.selection.startswith("strongest echo in 4-5.5 m")
