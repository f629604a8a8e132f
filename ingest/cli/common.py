"""What every ``larza`` subcommand shares: the ``--database-url`` option, failing with one
clear line, and a database that is checked before it is used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from stations.db import check_database, database_problem, open_engine
from stations.errors import DatabaseUnavailable

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DatabaseUrl",
    "database",
    "database_errors",
    "fail",
    "settings_problem",
]

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", envvar="LARZA_DATABASE_URL", help="SQLAlchemy URL")
]
DEFAULT_DATABASE_URL = "sqlite:///var/larza.sqlite"


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr, on one line; raise the result to exit with 1."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=1)


def settings_problem(error: ValidationError) -> str:
    """A process's settings refused, in words: each bad variable and why."""
    return "; ".join(
        f"LARZA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
    )


def shown(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: the message says so, the text is not repeated
        return "(unparsable)"


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """End the command with one line naming the database (never a statement or its
    parameters) on any database error raised in the block."""
    where = f"(database {shown(url)})"
    try:
        yield
    except DatabaseUnavailable as e:
        raise fail(f"{e} {where}") from e
    except SQLAlchemyError as e:
        raise fail(f"{database_problem(e)} {where}") from e


@contextmanager
def database(url: str | None, *, migrated: bool = True, **engine_kwargs: Any) -> Iterator[Engine]:
    """An engine for the command's database, disposed of afterwards; with ``migrated`` its
    schema must be this Larza's first. Database errors end the command with one line."""
    url = url or DEFAULT_DATABASE_URL
    with database_errors(url):
        engine = open_engine(url, **engine_kwargs)
        try:
            if migrated:
                check_database(engine)
            yield engine
        finally:
            engine.dispose()
