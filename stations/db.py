"""Engines, sessions and migrations.

Nothing is built at import time: callers make an engine from a URL and own it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from stations.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SessionFactory = Callable[[], Session]


def make_engine(
    url: str, *, sqlite_begin: str = "IMMEDIATE", sqlite_timeout_s: float = 30.0, **kwargs: Any
) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on, WAL, and its folder created.

    Statements' parameters are left out of error messages and logs (``hide_parameters``):
    they carry whole StationXML documents, API key hashes and webhook secrets.
    PostgreSQL connections give up after 10 s (``connect_timeout``) unless the URL says
    otherwise.

    SQLite transactions start with ``BEGIN IMMEDIATE`` by default: a transaction that reads
    and then writes would otherwise fail at once with "database is locked" when another
    process wrote in between, instead of waiting. Read-only processes (the API) pass
    ``sqlite_begin="DEFERRED"``. ``sqlite_timeout_s``: how long a write waits for another
    process's lock before it fails with "database is locked".
    """
    if sqlite_begin not in ("IMMEDIATE", "DEFERRED"):
        raise ValueError(f"sqlite_begin must be IMMEDIATE or DEFERRED, got {sqlite_begin!r}")
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": sqlite_timeout_s, "check_same_thread": False})
    elif parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        kwargs.setdefault("connect_args", {"connect_timeout": 10})
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


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The schema revision this Larza's code works with."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS_DIR}")
    return head


_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
_MIGRATE = "run 'larza db migrate'"


def open_engine(url: str, **kwargs: Any) -> Engine:
    """:func:`make_engine`, with a URL Larza cannot use (unparsable, an unknown driver, a
    folder that cannot be made) raised as ``DatabaseUnavailable``."""
    try:
        return make_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError, OSError) as e:
        raise database_problem(e) from e


def check_database(engine: Engine) -> None:
    """Raise ``DatabaseUnavailable`` unless the database answers and its schema is at the
    revision this code works with."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as e:
        raise database_problem(e) from e
    head = head_revision()
    if revision is None:
        raise DatabaseUnavailable(f"the database has no Larza tables: {_MIGRATE} first")
    if revision != head:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision
        try:
            known(revision)
        except Exception:  # alembic raises its own types for an unknown revision
            raise DatabaseUnavailable(
                f"the database's schema is at revision {revision}, which this Larza does not "
                f"know (it works with {head}): a newer Larza migrated it"
            ) from None
        raise DatabaseUnavailable(
            f"the database's schema is at revision {revision}, this Larza needs {head}: {_MIGRATE}"
        )


def database_problem(error: BaseException) -> DatabaseUnavailable:
    """A database error in words, on one line, with no statement or parameter in it."""
    if isinstance(error, ArgumentError):
        return DatabaseUnavailable(f"not a database URL Larza can use; write {_URL_FORMS}")
    if isinstance(error, ImportError):
        return DatabaseUnavailable(
            f"the database URL names a driver that is not installed; write {_URL_FORMS}"
        )
    if isinstance(error, OSError):
        return DatabaseUnavailable(
            "cannot create the database's folder", error.strerror or type(error).__name__
        )
    driver = error.orig if isinstance(error, DBAPIError) else error
    lines = str(driver).strip().splitlines() or [type(driver).__name__]
    first = lines[0].removeprefix("connection failed: ")
    if isinstance(error, DBAPIError) and error.statement is None:  # while connecting
        return DatabaseUnavailable("cannot connect to the database", first)
    lowered = first.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return DatabaseUnavailable(f"the database lacks Larza's tables: {_MIGRATE}", first)
    return DatabaseUnavailable("database error", first)
