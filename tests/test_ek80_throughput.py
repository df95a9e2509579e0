"""Speed-ups of the EK80 reading chain give exactly the results of the plain code they
replace (kept here as the reference), and the garbage collection between parts of a file
still frees the previous part's reference cycles."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from ts_toolkit_plugins.ek80 import angles, reader


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
