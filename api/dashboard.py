"""The operator dashboard, served by the API process itself: no front-end server, no build
step, nothing fetched from the internet (Larza runs on networks without it).

``/`` is the network overview, ``/stations/{NET.STA}`` a station's page,
``/events/{id}`` an event's page, ``/alerts`` the history of early-warning alerts (every
page shows the active alerts in a banner at its top), ``/runs`` the catalogue runs of
``larza reprocess`` (compared two by two) and ``/runs/{name}`` a run's events; the plots
they show are PNG images from :mod:`api.routers.plots`. All answer the same
``index.html``; its script
reads the address, draws the page from the JSON API and keeps it current with the
``/api/v1/stream`` Server-Sent Events. Scripts, styles and the map outline are under
``/static``.

Limitations: when reading needs an API key (``read_requires_key``) the pages and their
static files are refused like any other read, since a browser's ``EventSource`` and images
cannot send a key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Scope

from api.auth import check_read_key
from api.pagination import MAX_ID
from api.routers import event_map, plots
from api.settings import ApiSettings

__all__ = ["STATIC_DIR", "mount_dashboard"]

STATIC_DIR = Path(__file__).parent / "static"
_PAGE_HEADERS = {"Cache-Control": "no-cache"}


class KeyedStaticFiles(StaticFiles):
    """Static files that need a key when reads do: a mounted app is outside the reach of
    the app-wide dependency that checks keys on every route."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        request = Request(scope)
        settings: ApiSettings = request.app.state.settings
        if settings.read_requires_key:
            await run_in_threadpool(check_read_key, request)
        return await super().get_response(path, scope)


def _page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard: its plots (``api.routers.plots``), its pages at ``/``,
    ``/stations/{id}``, ``/events/{id}``, ``/alerts`` and its files at ``/static``. Call
    once, after the API's routers."""
    app.include_router(plots.router)
    app.include_router(event_map.router)
    app.mount("/static", KeyedStaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def overview() -> FileResponse:
        return _page()

    @app.get("/stations/{station_id}", include_in_schema=False)
    def station_page(
        station_id: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}$")],
    ) -> FileResponse:
        return _page()

    @app.get("/events/{event_id}", include_in_schema=False)
    def event_page(event_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> FileResponse:
        return _page()

    @app.get("/alerts", include_in_schema=False)
    def alerts_page() -> FileResponse:
        return _page()

    # catalogue runs of ``larza reprocess``: the list and comparison, and one run's events
    @app.get("/runs", include_in_schema=False)
    def runs_page() -> FileResponse:
        return _page()

    @app.get("/runs/{name}", include_in_schema=False)
    def run_page(name: Annotated[str, PathParam(min_length=1, max_length=100)]) -> FileResponse:
        return _page()
