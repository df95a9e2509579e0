"""Speed-ups of the EK80 reading chain give exactly the results of the plain code they
replace (kept here as the reference), and the garbage collection between parts of a file
still frees the previous part's reference cycles."""

from __future__ import annotations

import bisect
import gc
import weakref

import numpy as np
import pytest

from ts_toolkit_plugins.ek80 import angles, detection, reader


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_collect_garbage_frees_cycles_made_after_the_freeze() -> None:
    reader.collect_garbage()  # the first call in a process freezes what is alive then
    assert gc.get_freeze_count() > 0
    node = _Node()
    ref = weakref.ref(node)
    del node
    assert ref() is not None  # a cycle: not freed by reference counting
    reader.collect_garbage()
    assert ref() is None


def _reference_phase_four_sector(y_pc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plain formula (means of the halves) that :func:`.angles.electrical_phase`
    computes with fewer passes."""
    fore = 0.5 * (y_pc[2] + y_pc[3])
    aft = 0.5 * (y_pc[0] + y_pc[1])
    star = 0.5 * (y_pc[0] + y_pc[3])
    port = 0.5 * (y_pc[1] + y_pc[2])
    return np.angle(fore * np.conj(aft)), np.angle(star * np.conj(port))


@pytest.mark.parametrize("scale", [1e-9, 1e-4, 1.0, 1e3])
def test_four_sector_phase_is_the_plain_formula_to_the_last_bit(scale: float) -> None:
    rng = np.random.default_rng(7)
    y_pc = scale * (rng.normal(size=(4, 5000)) + 1j * rng.normal(size=(4, 5000)))
    y_pc[:, :10] = 0.0  # zero samples: angle 0 either way
    before = y_pc.copy()
    al, at = angles.electrical_phase(y_pc, 1)
    ref_al, ref_at = _reference_phase_four_sector(y_pc)
    np.testing.assert_array_equal(al, ref_al)
    np.testing.assert_array_equal(at, ref_at)
    np.testing.assert_array_equal(y_pc, before)  # the input is not changed


def _reference_complex_sectors(real: np.ndarray, imag: np.ndarray) -> np.ndarray | None:
    """:func:`.reader._complex_sectors` as it was, on transposed views."""
    re = real.reshape(real.shape[0], -1).T
    im = imag.reshape(imag.shape[0], -1).T
    finite = np.isfinite(re) & np.isfinite(im)
    rows = finite.any(axis=1)
    if not rows.all():
        re, im, finite = re[rows], im[rows], finite[rows]
    valid = finite.all(axis=0) if finite.size else np.zeros(0, bool)
    if not valid.any():
        return None
    n = int(np.flatnonzero(valid)[-1]) + 1
    s = np.empty((re.shape[0], n), dtype=complex)
    s.real, s.imag = re[:, :n], im[:, :n]
    bad = ~finite[:, :n]
    if bad.any():
        s[bad] = 0
    return s


def _echopype_like_block(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ping, sample, sector) float32 parts as echopype gives them: padded with NaN after
    each ping's last sample, some with a missing sector, a stray NaN or inf, an empty ping."""
    real = rng.normal(size=(8, 300, 4)).astype(np.float32)
    imag = rng.normal(size=(8, 300, 4)).astype(np.float32)
    for k, end in enumerate([300, 250, 120, 299, 1, 0, 300, 200]):
        real[k, end:] = np.nan
        imag[k, end:] = np.nan
    real[2, :, 3] = np.nan  # a sector without any sample
    imag[3, 17, 1] = np.nan  # a stray non-finite part
    real[6, 40, 0] = np.inf
    imag[7, 199, 2] = np.nan  # the last sample of one sector
    return real, imag


def test_complex_sectors_are_those_of_the_plain_code() -> None:
    real, imag = _echopype_like_block(np.random.default_rng(3))
    for k in range(real.shape[0]):
        got = reader._complex_sectors(real[k], imag[k])
        want = _reference_complex_sectors(real[k], imag[k])
        if want is None:
            assert got is None
            continue
        assert got is not None and got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert reader._complex_sectors(real[5], imag[5]) is None  # the empty ping


def _reference_separation(power: np.ndarray, ranges: np.ndarray, min_separation: float):
    """Sample indices of the local maxima that survive the minimum separation, strongest
    first, as the plain loop of :func:`.detection.detect` chose them."""
    peaks = detection.local_maxima(power)
    order = peaks[np.argsort(power[peaks])[::-1]]
    seen: list[float] = []
    kept = []
    for idx in order:
        r_idx = float(ranges[idx])
        at = bisect.bisect_left(seen, r_idx)
        if any(abs(r_idx - seen[j]) < min_separation for j in (at - 1, at) if 0 <= j < len(seen)):
            continue
        seen.insert(at, r_idx)
        kept.append(int(idx))
    return sorted(kept), len(peaks) - len(kept)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("min_separation", [0.0, 0.05, 0.3, 2.0])
def test_detection_keeps_the_candidates_the_plain_separation_loop_kept(
    seed: int, min_separation: float
) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    ranges = np.arange(n) * 0.0191 + 0.37  # m
    y = rng.normal(size=n) + 1j * rng.normal(size=n)
    power = np.abs(y) ** 2 * 1e-12
    settings = detection.DetectionSettings(
        min_ts=-1e9,
        min_range=0.0,
        min_separation=min_separation,
        min_echo_length=0.0,
        max_echo_length=np.inf,
        sidelobe_margin=None,
        min_sbr=None,
        bottom_sp=None,
    )
    found, counts = detection.detect(
        power, np.zeros(n), None, None, None, ranges, y, 2.0, 0.0, 1e-5, settings
    )
    kept, dropped = _reference_separation(power, ranges, min_separation)
    assert [c.index for c in found] == kept
    assert counts["separation"] == dropped
    assert dropped > 0 or min_separation == 0.0


def test_calibration_and_absorption_computed_once_are_the_same_numbers() -> None:
    from ts_toolkit_plugins.ek80.absorption import francois_garrison
    from ts_toolkit_plugins.ek80.calibration import Calibration
    from ts_toolkit_plugins.ek80.environment import Environment

    table = {
        "frequency": np.array([90e3, 120e3, 150e3, 170e3]),
        "gain": np.array([26.1, 27.0, np.nan, 27.9]),
        "beamwidth_along": np.array([8.0, 6.5, 5.4, 4.9]),
        "offset_athwart": np.array([0.1, -0.05, 0.02, 0.0]),
    }

    def make() -> Calibration:
        return Calibration(120e3, 27.0, 6.5, 6.6, 0.1, -0.2, 23.0, 23.0, table=table)

    cal = make()
    grids = [np.arange(95e3, 160e3, 1e3), np.arange(100e3, 110e3, 500.0), np.float64(125e3)]
    for f in grids * 2:  # the second time from the memo
        for name in ("gain_db", "beamwidths", "offsets"):
            got = getattr(cal, name)(f)
            want = getattr(make(), name)(f)  # a new one: computed, not remembered
            np.testing.assert_array_equal(got, want)
    got = cal.gain_db(grids[0])
    assert not got.flags.writeable  # shared: a caller cannot change the memo

    env = Environment(1490.0, 8.0, 34.5, 30.0, 8.1)
    for f in grids * 2:
        want = francois_garrison(f, 8.0, 34.5, 30.0, 8.1, 1490.0)
        np.testing.assert_array_equal(env.absorption(f), want)
    assert not env.absorption(grids[0]).flags.writeable
