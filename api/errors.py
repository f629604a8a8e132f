"""Larza errors mapped to HTTP, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stations.errors import ConfigurationError, LarzaError, NotFoundError


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
