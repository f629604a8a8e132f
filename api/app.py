"""The app factory: ``create_app(settings)``; its lifespan owns the database engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from api.auth import require_read_key
from api.cache import RoundCache
from api.dashboard import mount_dashboard
from api.docs import mount_docs
from api.errors import install_error_handlers
from api.fdsn import dataselect as fdsn_dataselect
from api.fdsn import event as fdsn_event
from api.fdsn import station as fdsn_station
from api.hub import ChangeHub
from api.routers import (
    alerts,
    detections,
    events,
    gaps,
    health,
    metrics,
    runs,
    stations,
    stream,
    webhooks,
)
from api.routers.stream import read_batch, streams_end_on_shutdown
from api.settings import ApiSettings, get_settings
from api.watch import Watcher
from api.webhook_delivery import WebhookDelivery
from stations.db import check_database, make_engine, make_session_factory
from stations.errors import DatabaseUnavailable

log = logging.getLogger("larza.api")

READY_TIMEOUT_S = 5.0
"""``/readyz`` answers 503 when the database has not answered within this."""

BACKGROUND_CONNECTIONS = 4
"""Connections beyond one per thread: the change poller, webhook delivery, and sessions
being closed after their thread finished."""


def api_engine(settings: ApiSettings) -> Engine:
    """The API's engine: a pool with a connection for every thread (``api_threads``) and a
    few more, waiting ``api_pool_timeout_s`` at most for one (then the request is 503)."""
    url = make_url(settings.database_url)
    pool: dict[str, Any] = {}
    if url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:"):
        pool = {
            "pool_size": settings.api_threads + BACKGROUND_CONNECTIONS,
            "max_overflow": BACKGROUND_CONNECTIONS,
            "pool_timeout": settings.api_pool_timeout_s,
        }
    return make_engine(settings.database_url, sqlite_begin="DEFERRED", **pool)


def create_app(settings: ApiSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API. With ``engine`` given, the caller owns it; otherwise the lifespan does.

    Webhooks are delivered (``webhooks_enabled``) only by an app that owns its engine: an
    app given one runs inside its caller's transactions, which a delivery thread writing
    through the same engine would get in the way of.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        bound = api_engine(settings) if engine is None else engine
        # Routes that block (database, files) run in these threads; the pool has a
        # connection for each and a few more (the change poller, webhook delivery).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        app.state.settings = settings
        app.state.engine = bound
        app.state.session_factory = make_session_factory(bound)
        # Only an app that owns its engine caches: one given an engine runs inside its
        # caller's transactions, which the poller does not see.
        cache = RoundCache(enabled=own, max_age_s=settings.api_cache_max_age_s)
        hub = ChangeHub()
        app.state.round_cache, app.state.change_hub = cache, hub
        delivery = None
        if settings.webhooks_enabled and own:
            delivery = WebhookDelivery(
                app.state.session_factory,
                poll_s=settings.webhook_poll_s,
                timeout_s=settings.webhook_timeout_s,
                backoff_max_s=settings.webhook_backoff_max_s,
                allow_networks=settings.webhook_allow_networks,
            )
            delivery.start()
        watcher = Watcher(
            app.state.session_factory,
            hub=hub,
            read_batch=read_batch,
            on_new_round=cache.new_round,
            on_write=cache.invalidate,
            poll_s=settings.stream_poll_s,
            max_age_s=settings.api_cache_max_age_s,
            on_changes=delivery.wake if delivery is not None else lambda: None,
        )
        app.state.watcher = watcher
        if own:  # otherwise at the first stream request (it reads outside the transactions)
            watcher.start()
        try:
            with streams_end_on_shutdown(hub):
                yield
        finally:
            await run_in_threadpool(watcher.stop)
            if delivery is not None:
                await run_in_threadpool(delivery.stop)
            if own:
                bound.dispose()

    app = FastAPI(
        title="Larza",
        summary="Seismic station health and detections",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(require_read_key)],
        docs_url=None,  # mount_docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    _documented(app, settings)
    # The hot reads first: a request's path is matched against the routes in this order.
    app.include_router(stations.router)
    app.include_router(metrics.router)
    app.include_router(detections.router)
    app.include_router(gaps.router)
    app.include_router(events.router)
    app.include_router(alerts.router)
    app.include_router(runs.router)
    app.include_router(health.router)
    app.include_router(stream.router)
    app.include_router(webhooks.router)
    app.include_router(fdsn_station.router)
    app.include_router(fdsn_event.router)
    app.include_router(fdsn_dataselect.router)
    mount_dashboard(app)
    mount_docs(app)

    @app.get(
        "/healthz",
        tags=["service"],
        summary="Liveness: the API process is up",
        description="Answers without touching the database or the worker threads, however "
        "busy they are: restart the process only when this fails.",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["service"],
        summary="Readiness: the API can serve (its database answers, its schema is current)",
        responses={503: {"description": "not ready; `reason` says why"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        engine: Engine = request.app.state.engine
        try:
            await asyncio.wait_for(asyncio.to_thread(check_database, engine), READY_TIMEOUT_S)
        except DatabaseUnavailable as e:
            log.warning("not ready: %s", e)
            return _unavailable(e.reason)
        except TimeoutError:
            return _unavailable(f"the database did not answer within {READY_TIMEOUT_S:g} s")
        return JSONResponse({"status": "ready"})

    return app


def _documented(app: FastAPI, settings: ApiSettings) -> None:
    """The OpenAPI schema as this app's settings make it: a ``limit`` (a page of a list, FDSN
    events) goes up to ``page_size_max``; a larger one is answered 400."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["name"] == "limit" and parameter["in"] == "query":
                            parameter["schema"]["maximum"] = settings.page_size_max
        return app.openapi_schema  # type: ignore[return-value]  # set by build()

    app.openapi = openapi  # type: ignore[method-assign]


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.app:create_app_from_env``."""
    return create_app(get_settings())
