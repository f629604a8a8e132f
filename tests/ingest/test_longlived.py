"""The worker's and the feed's long-lived objects kept out of full garbage collections."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator

import pytest

from ingest.longlived import LongLived


class _Node:
    """An object the collector tracks, able to take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def longlived() -> Iterator[LongLived]:
    kept = LongLived("test", slow_s=0.0)  # every full collection counts as slow
    try:
        yield kept
    finally:
        kept.stop()


def test_what_is_alive_once_set_up_is_frozen_and_left_out_of_full_collections(
    longlived: LongLived,
) -> None:
    state = [_Node() for _ in range(1000)]
    before = gc.get_freeze_count()
    longlived.start()
    assert gc.get_freeze_count() >= before + len(state)
    assert longlived.freezes == 1
    assert not any(o is state[0] for o in gc.get_objects(2))  # not walked any more


def test_a_slow_full_collection_freezes_at_the_next_safe_point_only(
    longlived: LongLived, caplog: pytest.LogCaptureFixture
) -> None:
    longlived.start()
    assert not longlived.settle()  # nothing slow since the start
    grown = [_Node() for _ in range(1000)]  # new channels' state, made after the start
    gc.collect()  # a full collection: slow by this fixture's limit
    frozen = gc.get_freeze_count()
    with caplog.at_level(logging.INFO, logger="ingest.longlived"):
        assert longlived.settle()
    assert gc.get_freeze_count() >= frozen + len(grown)
    assert "full collection took" in caplog.text
    assert not longlived.settle()  # once per slow collection
    fast = LongLived("fast", slow_s=60.0)
    fast.start()
    gc.collect()
    assert not fast.settle()  # a quick full collection freezes nothing
    fast.stop()


def test_frozen_objects_are_still_freed_when_dropped(longlived: LongLived) -> None:
    channel = _Node()
    gone = weakref.ref(channel)
    longlived.start()
    del channel  # a channel taken out of the inventory
    assert gone() is None


def test_stop_gives_the_objects_back_to_the_collector(longlived: LongLived) -> None:
    longlived.start()
    assert gc.get_freeze_count() > 0
    longlived.stop()
    assert gc.get_freeze_count() == 0
    assert longlived._watch not in gc.callbacks
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle made after the stop is collected as before
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None


def test_renew_collects_the_cycles_a_change_left_among_frozen_objects(
    longlived: LongLived,
) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a removed channel's state holding a cycle
    gone = weakref.ref(a)
    longlived.start()
    del a, b
    gc.collect()
    assert gone() is not None  # frozen: no collection walks it
    longlived.renew("channels taken out")
    assert gone() is None
    assert longlived.freezes == 2
    assert gc.get_freeze_count() > 0


def test_a_dask_workers_preload_freezes_what_it_has_once_started() -> None:
    from ingest.reprocess.windows import dask_setup

    gc.unfreeze()
    hooks = list(gc.callbacks)
    try:
        dask_setup(object())
        assert gc.get_freeze_count() > 0
    finally:
        gc.callbacks[:] = hooks  # the worker's watch goes with the test
        gc.unfreeze()
