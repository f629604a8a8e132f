"""Answers built once per health evaluation round and served from memory: the station list
and ``/metrics`` of a whole network cost a second to build at 1,000 stations, and change
only when the worker stores a round (every 10 s) or an operator writes.

Two counters say what may have changed them. ``round`` moves when the process's poller
(``api.watch``) sees a new evaluation round in the database, and at least every
``api_cache_max_age_s``: the answers are then built again in the background, and until
they are ready the previous round's are served, so no request waits for a build. The
worker stores a large network's round in turns (100 stations each, spread over the
round), each of which is a new round here; so that rebuilding never takes more than a
tenth of the process (``REBUILD_SHARE``), a round that comes sooner than ten times the
last rebuild's time after the one before waits until then (never longer than
``api_cache_max_age_s``), and the rounds that come meanwhile are built together. A small
network's rounds, built in milliseconds, show at once.
``generation`` moves with an operator's write (an acknowledgement, maintenance, a
StationXML import), through this process at once or another one as its poller sees it:
then no request gets the old answer; the first builds the new one and the others wait for
it. An answer more than three ages old is never served either (the database may be
failing: the request then says so).

Each answer is kept as JSON (or text) and gzipped, with a weak ETag: a client that has it
gets 304. An app that does not own its engine (tests, inside their own transactions) builds
every answer for every request, as if nothing were cached.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request, Response

__all__ = ["Built", "RoundCache", "built", "cached_response"]

log = logging.getLogger(__name__)

GZIP_LEVEL = 5
REBUILD_SHARE = 0.1
"""Most of the process's time that rebuilding for new rounds may take."""


@dataclass(frozen=True)
class Built:
    """One answer: its body as is and gzipped, its media type and ETag, and what it was built
    from (``value``: the station list's models, for ``/metrics``)."""

    body: bytes
    gzipped: bytes
    media_type: str
    etag: str
    value: Any = None
    generation: int = -1
    round: int = -1
    built_at: float = 0.0


def built(body: bytes, media_type: str, value: Any = None) -> Built:
    """An answer ready to serve (run in a thread: gzip and the hash cost a few ms a MB)."""
    tag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Built(body, gzip.compress(body, GZIP_LEVEL, mtime=0), media_type, tag, value)


class RoundCache:
    def __init__(self, *, enabled: bool, max_age_s: float) -> None:
        self.enabled = enabled
        self.max_age_s = max_age_s
        self.generation = 0
        self.round = 0
        self.builds = 0
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._answers: dict[str, Built] = {}
        self._building: dict[str, asyncio.Lock] = {}
        self._builders: dict[str, Callable[[], Awaitable[Built]]] = {}
        self._tasks: set[asyncio.Task[Built]] = set()
        self._build_s: dict[str, float] = {}  # how long each answer's last build took
        self._round_at = -float("inf")  # when ``round`` last moved
        self._round_due = False  # a round seen, waiting for its time

    def invalidate(self) -> None:
        """An operator's write: what is cached is out of date (any thread)."""
        with self._lock:
            self.generation += 1

    def new_round(self) -> None:
        """A new evaluation round: build the answers again, in the background, now or, if
        the last rebuild came too recently for its cost, when that is paid (any thread)."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._round_seen)

    def _spacing_s(self) -> float:
        # The longest build is about a whole rebuild's: /metrics waits for the station list
        # it is built from.
        return min(max(self._build_s.values(), default=0.0) / REBUILD_SHARE, self.max_age_s)

    def _round_seen(self) -> None:
        if self._round_due:
            return  # already waiting: this round is built with it
        wait = self._round_at + self._spacing_s() - time.monotonic()
        if wait > 0:
            self._round_due = True
            self._loop.call_later(wait, self._next_round)
        else:
            self._next_round()

    def _next_round(self) -> None:
        self._round_due = False
        self._round_at = time.monotonic()
        with self._lock:
            self.round += 1
        self._refresh_all()

    def _current(self, answer: Built | None) -> bool:
        return (
            answer is not None
            and answer.generation == self.generation
            and answer.round == self.round
        )

    async def get(
        self, name: str, build: Callable[[], Awaitable[Built]], *, current: bool = False
    ) -> Built:
        """The answer ``name``, built by ``build`` if need be: the previous round's while the
        current one is being built, unless ``current``."""
        if not self.enabled:
            return await build()
        self._builders[name] = build
        answer = self._answers.get(name)
        if answer is not None and not current and self._servable(answer):
            if answer.round != self.round:
                self._refresh(name)
            return answer
        return await self._build(name)

    def _servable(self, answer: Built) -> bool:
        return (
            answer.generation == self.generation
            and time.monotonic() - answer.built_at <= 3 * self.max_age_s
        )

    async def _build(self, name: str) -> Built:
        lock = self._building.setdefault(name, asyncio.Lock())
        async with lock:
            answer = self._answers.get(name)
            if self._current(answer):
                assert answer is not None
                return answer  # built by the request this one waited for
            generation, round_ = self.generation, self.round
            started = time.monotonic()
            answer = replace(
                await self._builders[name](),
                generation=generation,
                round=round_,
                built_at=time.monotonic(),
            )
            self._build_s[name] = answer.built_at - started
            self._answers[name] = answer
            self.builds += 1
            return answer

    def _refresh(self, name: str) -> None:
        lock = self._building.get(name)
        if lock is not None and lock.locked():
            return  # being built
        task = self._loop.create_task(self._build(name))
        self._tasks.add(task)
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[Built]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "building a cached answer failed (retried at the next request or round): %s",
                task.exception(),
            )

    def _refresh_all(self) -> None:
        for name in list(self._answers):
            self._refresh(name)


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return True
    return False


def cached_response(request: Request, answer: Built) -> Response:
    """``answer``, gzipped if the client takes it, or 304 if the client has it already."""
    headers = {"ETag": answer.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    wanted = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if answer.etag.removeprefix("W/") in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type=answer.media_type, headers=headers)
    return Response(answer.body, media_type=answer.media_type, headers=headers)
