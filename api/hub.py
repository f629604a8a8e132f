"""The change hub of one API process: the changes its poller reads (``api.watch``), handed
to every SSE client of the process, each message rendered once for all of them.

Everything here runs in the event loop's thread; the poller hands batches over with
:meth:`ChangeHub.publish_threadsafe`. A client subscribes, then reads from the database
what it missed up to the hub's position when it subscribed (``Subscription.start``), then
takes the hub's batches, which continue exactly from there: no change is skipped or sent
twice. A client that falls too far behind (it reads slower than changes come) is dropped
by the hub and catches up from the database again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from stations.models import ChangeKind

__all__ = ["Batch", "ChangeHub", "Message", "Subscription"]

MAX_PENDING = 1000
"""Batches a subscriber may leave unread before the hub drops it (it then catches up from
the database)."""


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    kind: ChangeKind
    text: str  # the whole SSE message: id, event and data lines, and the blank line


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes read together, in id order, and ``cursor``: every change up to it is read
    (a later batch starts after it)."""

    messages: tuple[Message, ...]
    cursor: int


class Subscription:
    """One SSE client's place at the hub: the batches published since it subscribed."""

    def __init__(self, start: int, kinds: Collection[ChangeKind]) -> None:
        self.start = start
        """The hub's cursor when it subscribed: its batches hold the changes after it."""
        self.kinds = frozenset(kinds)
        self.pending: deque[Batch] = deque()
        self.dropped = False
        """It fell behind: no more batches come; it must catch up from the database."""
        self.closed = False
        """The hub closed (the server is stopping)."""
        self._wake = asyncio.Event()

    def _push(self, batch: Batch) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.pending.clear()
            self.dropped = True
        else:
            self.pending.append(batch)
        self._wake.set()

    def _close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until a batch comes, the subscription ends, or ``timeout`` seconds pass."""
        if self.pending or self.dropped or self.closed:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def take(self) -> list[Batch]:
        batches = list(self.pending)
        self.pending.clear()
        return batches


class ChangeHub:
    """Fans each batch of changes out to every subscriber. ``cursor`` is None until the
    poller's first read of the change log (``ready`` is then set)."""

    def __init__(self) -> None:
        self.cursor: int | None = None
        self.ready = asyncio.Event()
        self.closed = False
        self.subscribers: set[Subscription] = set()
        self._loop = asyncio.get_running_loop()

    def begin(self, cursor: int) -> None:
        """The change log's end when the poller started: batches follow from there."""
        if self.cursor is None:
            self.cursor = cursor
            self.ready.set()

    def publish(self, batch: Batch) -> None:
        self.cursor = batch.cursor
        for subscription in list(self.subscribers):
            subscription._push(batch)
            if subscription.dropped:
                self.subscribers.discard(subscription)

    def publish_threadsafe(self, batch: Batch) -> None:
        """:meth:`publish` from another thread (the poller's)."""
        self._loop.call_soon_threadsafe(self.publish, batch)

    def begin_threadsafe(self, cursor: int) -> None:
        self._loop.call_soon_threadsafe(self.begin, cursor)

    def subscribe(self, kinds: Collection[ChangeKind]) -> Subscription:
        if self.cursor is None:
            raise RuntimeError("the hub has not begun: await ready first")
        subscription = Subscription(self.cursor, kinds)
        if self.closed:
            subscription._close()
        else:
            self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    def close(self) -> None:
        """End every subscription (the server is stopping), now and for those to come."""
        self.closed = True
        for subscription in self.subscribers:
            subscription._close()
        self.subscribers.clear()

    def close_threadsafe(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close)
