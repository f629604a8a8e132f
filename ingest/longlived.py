"""The objects a long-running process keeps for its whole life, left out of CPython's full
garbage collections.

A full (generation 2) collection walks every object the collector tracks. A worker at 10,200
channels holds about 700,000 of them (the libraries' modules, functions and types; the
channels' pickers, health windows and ledgers), and a full collection held its loop for
0.6-0.9 s about every 13 s of data: 8-14 % of its processor time, and the seconds of data
latency no batch size explains. ``gc.freeze`` moves the objects alive at a moment to a
permanent generation that no collection walks. They are still freed by reference counting
when dropped (a channel taken out of the inventory); only a reference cycle among them would
stay, so the freeze comes right after a collection, between batches.

:class:`LongLived` freezes once the process is set up, then again whenever a full collection
was slow (new channels, a grown ring): at a point the caller chooses, when no batch is half
done.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

__all__ = ["SLOW_FULL_COLLECTION_S", "LongLived"]

log = logging.getLogger(__name__)

SLOW_FULL_COLLECTION_S = 0.1
"""A full collection longer than this freezes what it found alive, at the next safe point."""


class LongLived:
    """Keeps a process's long-lived objects out of the collector's full collections.

    ``start()`` once set up, ``settle()`` between units of work (cheap unless a full
    collection was slow since), ``stop()`` at the end.
    """

    def __init__(self, name: str, slow_s: float = SLOW_FULL_COLLECTION_S) -> None:
        self.name = name
        self.slow_s = slow_s
        self.freezes = 0
        self._began = 0.0
        self._slow_s = 0.0  # the slowest full collection since the last freeze, if slow

    def start(self, why: str = "set up") -> None:
        """Collect, freeze what is left (the set-up's objects), and watch full collections."""
        self._freeze(generation=2, why=why)
        gc.callbacks.append(self._watch)

    def settle(self) -> bool:
        """At a safe point: if a full collection was slow since the last freeze, collect the
        young generations (their reference cycles) and freeze what is alive. True if it
        froze."""
        if not self._slow_s:
            return False
        why = f"a full collection took {self._slow_s:.2f} s"
        self._slow_s = 0.0
        self._freeze(generation=1, why=why)
        return True

    def renew(self, why: str) -> None:
        """After a large change (a new pipeline, channels taken out): give everything back
        to the collector, collect the reference cycles the change left, freeze again."""
        self.stop()
        self.start(why)

    def stop(self) -> None:
        """Stop watching, and give the frozen objects back to the collector."""
        if self._watch in gc.callbacks:
            gc.callbacks.remove(self._watch)
        gc.unfreeze()

    def _freeze(self, *, generation: int, why: str) -> None:
        began = time.perf_counter()
        gc.collect(generation)
        gc.freeze()
        self.freezes += 1
        log.info(
            "%s: %d long-lived objects kept out of full collections (%s; %.2f s)",
            self.name,
            gc.get_freeze_count(),
            why,
            time.perf_counter() - began,
        )

    def _watch(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        if took > self.slow_s:
            self._slow_s = max(self._slow_s, took)
