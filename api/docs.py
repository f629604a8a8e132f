"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, with every file they
load served by the API itself: FastAPI's own pages load Swagger UI, ReDoc, a favicon and
fonts from CDNs, so on a network without internet they stay blank.

The files come from the ``fastapi-offline`` package (MIT; it ships Swagger UI's
``swagger-ui-bundle.js`` and ``swagger-ui.css``, Apache-2.0, ReDoc's standalone bundle, MIT,
and FastAPI's favicon, MIT), served under ``/docs/assets``; the pages are FastAPI's, pointed at
them. Like FastAPI's, they are plain routes outside the OpenAPI schema and need no API key
even when reading does (the schema is no secret; the requests made from the page send the
key typed into its "Authorize" dialog).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ["ASSETS_DIR", "ASSETS_URL", "mount_docs"]

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"


def mount_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` and their files. The app must be built with
    ``docs_url=None, redoc_url=None`` (FastAPI's pages would load from CDNs)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def urls(request: Request) -> tuple[str, str]:
        root = request.scope.get("root_path", "")
        return f"{root}{app.openapi_url}", f"{root}{ASSETS_URL}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} — API documentation",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            # No badge from the online validator: the page asks nothing of other hosts.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def redoc(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title} — API reference",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
