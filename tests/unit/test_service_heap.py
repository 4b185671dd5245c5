"""service.heap: the start-up heap leaves the collector's scans; later objects are still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from oracle_node.service.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process as it was


def test_freeze_startup_heap__survivors_frozen__later_cycles_still_collected(unfrozen: None) -> None:
    survivor, garbage = _Node(), _Node()
    dead = weakref.ref(garbage)
    del garbage
    frozen = freeze_startup_heap()
    assert dead() is None  # collected before freezing, not frozen
    assert frozen == gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())  # no longer scanned

    later = _Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None  # created after the freeze: collected as before
