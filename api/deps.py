"""Request dependencies: the database session and the settings, as ``Annotated`` aliases.

A route's session is closed as soon as the route function returns (``scope="function"``),
before its answer is serialised and sent: a connection is held only while a thread works
with it, so the pool, sized to the threads (``api_threads``), never runs dry while requests
wait for a thread. None of these needs a thread of its own; a route served from memory
uses the plain functions (``app_settings``, ``round_cache``, ``session_opener``): each
dependency costs a request tens of microseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.cache import RoundCache
from api.settings import ApiSettings

SessionOpener = Callable[[], AbstractContextManager[Session]]


async def get_session(request: Request) -> AsyncIterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()  # no connection yet: it is taken at the first query, in a thread
    try:
        yield session
    finally:
        if session.in_transaction():
            # Ending the transaction talks to the database: in a thread, but not one of the
            # route threads, which may all be taken by requests waiting for this connection.
            with CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=CapacityLimiter(1))
        else:
            session.close()


def app_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_app_settings(request: Request) -> ApiSettings:
    """A coroutine: it needs no worker thread (the probes use none)."""
    return app_settings(request)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[ApiSettings, Depends(get_app_settings)]


def session_opener(request: Request) -> SessionOpener:
    """Opens sessions for work a route does in threads of its own (building a cached answer).
    Where ``get_session`` is overridden (tests, inside their own transaction), the session
    it gives."""
    override = request.app.dependency_overrides.get(get_session)
    if override is None:
        factory: sessionmaker[Session] = request.app.state.session_factory
        return factory
    return lambda: nullcontext(override())


def round_cache(request: Request) -> RoundCache:
    cache: RoundCache = request.app.state.round_cache
    return cache


async def get_round_cache(request: Request) -> RoundCache:
    return round_cache(request)


RoundCacheDep = Annotated[RoundCache, Depends(get_round_cache)]
