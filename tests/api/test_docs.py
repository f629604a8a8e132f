"""/docs and /redoc work on a network without internet: every file the pages load is served
by the API itself, and they need no key even when reading does."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings

# src="...", href="...", spec-url="..." (ReDoc), and the spec's address in Swagger UI's
# script (url: '...').
_REFERENCE = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl:\s*["']([^"']+)["']"""
)
_ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.fixture
def closed_client(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    """The API with ``read_requires_key``: reads need a key, the documentation does not."""
    settings = ApiSettings(database_url="sqlite://", read_requires_key=True)
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: inventory
    with TestClient(app) as test_client:
        yield test_client


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "openapi.json"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
    ],
)
def test_every_file_a_documentation_page_loads_is_served_here(
    closed_client: TestClient, page: str, expected: set[str]
) -> None:
    response = closed_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html  # no CDN, no web fonts, no favicon from elsewhere
    references = _references(html)
    assert {r.rsplit("/", 1)[-1] for r in references} == expected
    for reference in references:
        assert reference.startswith("/"), reference  # on this server
        asset = closed_client.get(reference)  # and readable without a key
        assert asset.status_code == 200, reference
        suffix = reference[reference.rfind(".") :]
        assert _ASSET_TYPES[suffix] in asset.headers["content-type"], reference
        assert len(asset.content) > 1000, reference
    assert closed_client.get("/api/v1/stations").status_code == 401  # reads do need one


def test_swagger_ui_asks_no_online_validator(closed_client: TestClient) -> None:
    html = closed_client.get("/docs").text
    assert '"validatorUrl": null' in html
    # The bundle is a Swagger UI that reads OpenAPI 3.1, the version FastAPI writes.
    assert closed_client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = closed_client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert re.search(r'"5\.\d+\.\d+"', bundle)
