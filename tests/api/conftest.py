from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings

from .test_stream import Writer, prepared


@pytest.fixture
def client(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    """The API over the test's own (rolled-back) session, with the default inventory."""
    app = create_app(ApiSettings(database_url="sqlite://"), engine=engine)
    app.dependency_overrides[get_session] = lambda: inventory
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def database(fresh_database_url: str) -> str:
    """A database of the test's own, migrated, with the default inventory."""
    return prepared(fresh_database_url)


@pytest.fixture
def writer(database: str) -> Iterator[Writer]:
    """Writes detections, events and state changes into ``database`` as the worker does."""
    w = Writer(database)
    yield w
    w.close()
