"""Speed-ups of the EK80 reading chain give exactly the results of the plain code they
replace (kept here as the reference), and the garbage collection between parts of a file
still frees the previous part's reference cycles."""

from __future__ import annotations

import gc
import weakref

from ts_toolkit_plugins.ek80 import reader


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
