from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings


@pytest.fixture
def client(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    """The API over the test's own (rolled-back) session, with the default inventory."""
    app = create_app(ApiSettings(database_url="sqlite://"), engine=engine)
    app.dependency_overrides[get_session] = lambda: inventory
    with TestClient(app) as test_client:
        yield test_client
