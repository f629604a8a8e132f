"""Where the feed's records come from: a small protocol, so replay and faults can slot in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable


@runtime_checkable
class RecordSource(Protocol):
    """A source of complete 512-byte miniSEED 2 records, released against a clock.

    ``records_until(now)`` returns every record that became ready up to the POSIX time
    ``now`` and was not returned before, in time order. ``now`` never goes backwards. The
    synthetic generator is one implementation; a list of records (:class:`ListSource`) is
    another; replay of archives (``ReplaySource``) a third, and fault injection
    (``FaultySource``) a wrapper around any of them.
    """

    def records_until(self, now: float) -> list[bytes]: ...


class ListSource:
    """Records given up front, each released at a given time: for tests and simple replays."""

    def __init__(self, timed_records: Iterable[tuple[float, bytes]]) -> None:
        self._items = sorted(timed_records, key=lambda item: item[0])
        self._next = 0

    def records_until(self, now: float) -> list[bytes]:
        out: list[bytes] = []
        while self._next < len(self._items) and self._items[self._next][0] <= now:
            out.append(self._items[self._next][1])
            self._next += 1
        return out
