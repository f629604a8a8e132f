"""Larza errors mapped to HTTP, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stations.errors import ConfigurationError, LarzaError, NotFoundError

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
