"""The one poller of an API process, in a thread of its own: every ``stream_poll_s`` it
reads the change log's end and, when it moved, the new changes, which it hands to the
process's change hub (every SSE client) and tells ``on_changes`` (webhook delivery, which
then starts at once instead of at its next poll); and it reads the version of the network overview
(``stations.overview.overview_version``), telling the cache of the station list and
``/metrics`` when a new evaluation round was stored (or ``api_cache_max_age_s`` passed
without one) and when an operator wrote through any process.

An idle poll is one small query (and every ``VERSION_EVERY_S`` one more), whatever the
number of SSE clients. A database that
fails is logged once and polled again; the stream's clients then wait, and get everything
when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.hub import Batch, ChangeHub
from stations.changes import last_change_id
from stations.overview import OverviewVersion, overview_version

__all__ = ["ReadBatch", "Watcher"]

log = logging.getLogger(__name__)

VERSION_EVERY_S = 0.5
"""How often the overview's version is read (a few scans of small tables): a new round, or
an operator's write through another process, shows within this (and a build)."""

ReadBatch = Callable[[Session, int], tuple[Batch, bool]]
"""(session, after id) -> (the next page of changes rendered, whether the page is full)."""


class Watcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        hub: ChangeHub,
        read_batch: ReadBatch,
        on_new_round: Callable[[], None],
        on_write: Callable[[], None],
        poll_s: float,
        max_age_s: float,
        on_changes: Callable[[], None] = lambda: None,
    ) -> None:
        self.factory = factory
        self.hub = hub
        self.read_batch = read_batch
        self.on_new_round = on_new_round
        self.on_write = on_write
        self.on_changes = on_changes
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self.polls = 0
        self._stop = threading.Event()
        self._starting = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="larza-api-poller", daemon=True)
        self._cursor: int | None = None
        self._version: OverviewVersion | None = None
        self._round_at = 0.0
        self._version_at = -VERSION_EVERY_S

    def start(self) -> None:
        """Start polling (once; later calls do nothing)."""
        with self._starting:
            if not self._thread.is_alive() and not self._stop.is_set():
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        failing = False
        while True:
            try:
                self.poll()
            except SQLAlchemyError as e:
                if not failing:
                    log.warning("the change poller cannot read the database (retrying): %s", e)
                failing = True
            else:
                if failing:
                    log.info("the change poller reads the database again")
                failing = False
            if self._stop.wait(self.poll_s):
                return

    def poll(self) -> None:
        """One look at the database (the thread's loop; tests call it directly)."""
        engine = self.factory.kw["bind"]
        with engine.connect() as connection:  # no session: the idle poll is the hot path
            end = last_change_id(connection)
        if self._cursor is None:
            self._cursor = end
            self.hub.begin_threadsafe(end)
        now = time.monotonic()
        version = None
        changed = end > self._cursor
        if changed or now >= self._version_at + VERSION_EVERY_S:
            with self.factory() as session:
                self._read_changes(session, end)
                if now >= self._version_at + VERSION_EVERY_S:
                    self._version_at = now
                    version = overview_version(session)
        self.polls += 1
        if changed:
            self.on_changes()
        if version is not None:
            self._seen(version, now)

    def _read_changes(self, session: Session, end: int) -> None:
        assert self._cursor is not None
        while end > self._cursor:
            batch, full = self.read_batch(session, self._cursor)
            self.hub.publish_threadsafe(batch)
            self._cursor = batch.cursor
            if not full:
                break

    def _seen(self, version: OverviewVersion, now: float) -> None:
        previous, self._version = self._version, version
        if previous is None or version.writes != previous.writes:
            self.on_write()
        if (
            previous is None
            or version.rounds != previous.rounds
            or now - self._round_at >= self.max_age_s
        ):
            self._round_at = now
            self.on_new_round()
