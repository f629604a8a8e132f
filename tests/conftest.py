"""Shared fixtures: a migrated database per run, each test inside a rolled-back transaction.

SQLite by default; set ``LARZA_TEST_DATABASE_URL`` (a PostgreSQL URL) to run the same suite
on PostgreSQL. ``fresh_database_url`` gives tests that start real processes a database of
their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stations.db import make_engine, migrate
from stations.inventory import default_inventory_path, import_stationxml

PG_URL = os.environ.get("LARZA_TEST_DATABASE_URL")


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'larza-test.sqlite'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def inventory(session: Session) -> Session:
    """The session with the default TJ inventory imported."""
    import_stationxml(session, default_inventory_path())
    return session


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (for tests that run real processes), dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'larza.sqlite'}"
        return
    name = f"larza_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
