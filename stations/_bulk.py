"""Writing many rows of one table at once, without the ORM's work per row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from stations.models import Base


def bulk_write(
    session: Session,
    model: type[Base],
    *,
    added: list[dict[str, object]],
    changed: list[dict[str, object]],
) -> None:
    """Insert ``added`` and update ``changed`` (rows by primary key, all with the same keys)
    in one executemany each, on the table itself: the ORM's bulk update by primary key does
    Python work per row that the worker pays every batch. Callers read the rows as plain
    tuples, so no object in the session goes stale."""
    table = cast(Table, model.__table__)
    if added:
        session.execute(insert(table), added)
    if changed:
        _update_many(session, table, changed)


_Processor = Callable[[Any], Any] | None
_compiled: dict[
    tuple[str, str, tuple[str, ...]], tuple[str, list[tuple[str, str, _Processor]]]
] = {}
"""(dialect, table, columns) -> the UPDATE's SQL and, in the order its parameters take, each
parameter's name, column and bind processor."""


def _update_many(session: Session, table: Table, changed: list[dict[str, object]]) -> None:
    """One executemany of an UPDATE by primary key, compiled once per dialect and columns,
    the rows converted by the columns' own bind processors: SQLAlchemy's general path spends
    most of a batch's time per row and per parameter."""
    connection = session.connection()
    dialect = connection.dialect
    keys = [column.name for column in table.primary_key.columns]
    names = [name for name in changed[0] if name not in keys]
    found = _compiled.get((dialect.name, table.name, tuple(names)))
    if found is None:
        # bound parameters may not take a column's own name in an UPDATE
        stmt = (
            update(table)
            .where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
            .values({name: bindparam(f"new_{name}") for name in names})
        )
        compiled = stmt.compile(dialect=dialect)
        order = list(compiled.positiontup or []) or list(compiled.binds)
        params: list[tuple[str, str, _Processor]] = []
        for param in order:
            column = param.partition("_")[2]
            processor: _Processor = (
                table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            )
            params.append((param, column, processor))
        found = _compiled[(dialect.name, table.name, tuple(names))] = (compiled.string, params)
    sql, params = found
    if dialect.positional:
        rows: list[Any] = [
            tuple(row[c] if p is None else p(row[c]) for _, c, p in params) for row in changed
        ]
    else:
        rows = [{n: row[c] if p is None else p(row[c]) for n, c, p in params} for row in changed]
    connection.exec_driver_sql(sql, rows)
