"""Answers built once per health evaluation round and served from memory: the station list
and ``/metrics`` of a whole network cost a second to build at 1,000 stations, and change
only when the worker stores a round (every 10 s) or an operator writes.

``generation`` counts what may have changed them: the process's poller (``api.watch``)
bumps it for each new round seen in the database (another process's writes too) and at
least every ``api_cache_max_age_s``; a write through this process bumps it at once. An
answer is built again, by one request while the others wait for it, when the generation
moved since it was built. Each answer is kept as JSON (or text) and gzipped, with a weak
ETag: a client that has it gets 304.

An app that does not own its engine (tests, inside their own transactions) builds every
answer for every request, as if nothing were cached.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request, Response

__all__ = ["Built", "RoundCache", "built", "cached_response"]

GZIP_LEVEL = 5


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


def built(body: bytes, media_type: str, value: Any = None) -> Built:
    """An answer ready to serve (run in a thread: gzip and the hash cost a few ms a MB)."""
    tag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Built(body, gzip.compress(body, GZIP_LEVEL, mtime=0), media_type, tag, value)


class RoundCache:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.generation = 0
        self.builds = 0
        self._lock = threading.Lock()
        self._answers: dict[str, Built] = {}
        self._building: dict[str, asyncio.Lock] = {}

    def invalidate(self) -> None:
        """What is cached may be out of date (any thread)."""
        with self._lock:
            self.generation += 1

    async def get(self, name: str, build: Callable[[], Awaitable[Built]]) -> Built:
        """The answer ``name`` of the current generation, built by ``build`` if need be."""
        if not self.enabled:
            return await build()
        answer = self._answers.get(name)
        if answer is not None and answer.generation == self.generation:
            return answer
        lock = self._building.setdefault(name, asyncio.Lock())
        async with lock:
            answer = self._answers.get(name)
            if answer is not None and answer.generation == self.generation:
                return answer  # built by the request this one waited for
            generation = self.generation
            answer = replace(await build(), generation=generation)
            self._answers[name] = answer
            self.builds += 1
            return answer


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
