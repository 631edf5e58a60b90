"""A server worker freezes its start-up heap and collects young objects less often (heap.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from reservation.shared.heap import YOUNG_THRESHOLD, freeze_startup_heap

from .conftest import Harness


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """The test process must not keep the frozen heap or the thresholds a test applied."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.mark.usefixtures("restore_gc")
def test_freezing_keeps_live_objects_out_of_collections_and_frees_garbage_first() -> None:
    _, older, oldest = gc.get_threshold()
    live = _Node()
    garbage = weakref.ref(_Node())  # unreachable cycle, not yet collected
    assert garbage() is not None

    freeze_startup_heap()

    assert garbage() is None, "garbage made at start-up was frozen instead of freed"
    assert gc.get_freeze_count() > 0
    assert not any(obj is live for obj in gc.get_objects()), "live start-up objects are still collected"
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)


@pytest.mark.usefixtures("restore_gc")
def test_a_server_worker_freezes_once_started_and_a_test_app_does_not(with_app) -> None:
    async def frozen(_: Harness) -> int:
        return gc.get_freeze_count()

    gc.unfreeze()
    assert with_app(frozen) == 0
    assert with_app(frozen, server_process=True) > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
