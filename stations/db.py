"""Engines, sessions and migrations.

Nothing is built at import time: callers make an engine from a URL and own it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SessionFactory = Callable[[], Session]


def make_engine(
    url: str, *, sqlite_begin: str = "IMMEDIATE", sqlite_timeout_s: float = 30.0, **kwargs: Any
) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on, WAL, and its folder created.

    SQLite transactions start with ``BEGIN IMMEDIATE`` by default: a transaction that reads
    and then writes would otherwise fail at once with "database is locked" when another
    process wrote in between, instead of waiting. Read-only processes (the API) pass
    ``sqlite_begin="DEFERRED"``. ``sqlite_timeout_s``: how long a write waits for another
    process's lock before it fails with "database is locked".
    """
    if sqlite_begin not in ("IMMEDIATE", "DEFERRED"):
        raise ValueError(f"sqlite_begin must be IMMEDIATE or DEFERRED, got {sqlite_begin!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": sqlite_timeout_s, "check_same_thread": False})
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        # pysqlite's own transaction handling breaks SAVEPOINT: let SQLAlchemy emit BEGIN.
        event.listen(engine, "connect", _sqlite_pragmas)
        statement = f"BEGIN {sqlite_begin}"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(statement))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database of ``engine`` to ``revision`` with Alembic (never ``create_all``)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
