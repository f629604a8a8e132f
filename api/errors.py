"""Larza errors mapped to HTTP, in one place.

A database that cannot serve a request now (every pooled connection busy past
``api_pool_timeout_s``, the server refusing connections or gone) is 503 with
``Retry-After``: the client is told to come back, not that the API failed.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from stations.errors import ConfigurationError, LarzaError, NotFoundError

log = logging.getLogger(__name__)

RETRY_AFTER_BUSY_S = 1
"""Retry-After of a request that found every database connection busy."""
RETRY_AFTER_DOWN_S = 5
"""Retry-After of a request that found the database unreachable or failing."""

DETAIL = {
    "application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}
}
BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "the request cannot be answered as asked (a page larger than the "
        "largest, an end before its start, a document that is not valid): `detail` says why",
        "content": DETAIL,
    }
}
"""The 400 every ``/api/v1`` route may answer (a ``LarzaError``), for the OpenAPI schema."""


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ConfigurationError)
    async def bad_config(_request: Request, exc: ConfigurationError) -> JSONResponse:
        return JSONResponse(status_code=500, content={"detail": str(exc)})

    @app.exception_handler(LarzaError)
    async def larza_error(_request: Request, exc: LarzaError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(PoolTimeoutError)
    async def pool_busy(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        log.warning(
            "%s %s: 503, no database connection free: %s", request.method, request.url.path, exc
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "the API is busy: every database connection is in use; retry"},
            headers={"Retry-After": str(RETRY_AFTER_BUSY_S)},
        )

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error(
            "%s %s: 503, the database failed: %s",
            request.method,
            request.url.path,
            exc.orig if exc.orig is not None else exc,
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "the database is not available; retry"},
            headers={"Retry-After": str(RETRY_AFTER_DOWN_S)},
        )
