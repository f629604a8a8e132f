"""The app factory: ``create_app(settings)``; its lifespan owns the database engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from api.errors import install_error_handlers
from api.fdsn import dataselect as fdsn_dataselect
from api.fdsn import event as fdsn_event
from api.fdsn import station as fdsn_station
from api.routers import detections, events, health, metrics, stations
from api.settings import ApiSettings, get_settings
from stations.db import make_engine, make_session_factory


def create_app(settings: ApiSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API. With ``engine`` given, the caller owns it; otherwise the lifespan does."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        bound = (
            make_engine(settings.database_url, sqlite_begin="DEFERRED")
            if engine is None
            else engine
        )
        app.state.settings = settings
        app.state.session_factory = make_session_factory(bound)
        try:
            yield
        finally:
            if own:
                bound.dispose()

    app = FastAPI(
        title="Larza",
        summary="Seismic station health and detections",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(stations.router)
    app.include_router(detections.router)
    app.include_router(events.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(fdsn_station.router)
    app.include_router(fdsn_event.router)
    app.include_router(fdsn_dataselect.router)

    @app.get("/healthz", tags=["service"], summary="The API process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.app:create_app_from_env``."""
    return create_app(get_settings())
