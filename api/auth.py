"""API keys on requests: ``WriteKey`` for routes that change something, and the optional
key check on every read (``read_requires_key``).

A key is sent as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. No key at all is
401; a key that is unknown or revoked is 403. Operators create keys with
``larza apikey create NAME``.

Keys are checked in a short session of their own, closed before the route runs: a
long-lived response (the SSE stream) holds no database connection for its whole life.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.deps import app_settings
from stations.apikeys import verify_api_key
from stations.models import ApiKey

__all__ = [
    "OPEN_PATHS",
    "SessionFactoryDep",
    "WriteKey",
    "check_read_key",
    "require_read_key",
]

OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Readable without a key even when ``read_requires_key`` is set (probes send no key)."""

_MISSING = (
    "an API key is needed: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>' "
    "(an operator creates one with 'larza apikey create NAME')"
)
_REFUSED = "the API key is not valid, or has been revoked"

_header_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="a key from 'larza apikey create'"
)
_bearer_key = HTTPBearer(auto_error=False, description="a key from 'larza apikey create'")


def _session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory, for work that opens its own short sessions."""
    return _session_factory(request)


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def _checked(factory: sessionmaker[Session], key: str | None) -> ApiKey:
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, _MISSING, headers={"WWW-Authenticate": "Bearer"}
        )
    with factory() as session:
        found = verify_api_key(session, key=key)
        if found is not None:
            session.expunge(found)
    if found is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, _REFUSED)
    return found


def require_write_key(
    factory: SessionFactoryDep,
    header: Annotated[str | None, Depends(_header_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_key)],
) -> ApiKey:
    return _checked(factory, header or (bearer.credentials if bearer else None))


WriteKey = Annotated[ApiKey, Depends(require_write_key)]
"""The caller's valid, unrevoked API key (401 without one, 403 for a bad one)."""


async def require_read_key(request: Request) -> None:
    """App-wide: with ``read_requires_key`` set, every request outside ``OPEN_PATHS`` needs
    a key. Every method, not only GET: an FDSN dataselect POST reads as well. Without it,
    a request costs no thread and no database (nor does a probe with it)."""
    settings = app_settings(request)
    if not settings.read_requires_key or request.url.path in OPEN_PATHS:
        return
    await run_in_threadpool(check_read_key, request)


def check_read_key(request: Request) -> None:
    """401 or 403 unless the request carries a valid key (a blocking call: the database).
    For what the app-wide dependency does not reach: the dashboard's static files."""
    key = request.headers.get("x-api-key")
    if not key:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        key = credentials.strip() if scheme.lower() == "bearer" else None
    _checked(_session_factory(request), key)
