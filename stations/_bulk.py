"""Writing many rows of one table at once, without the ORM's work per row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Table, bindparam, case, insert, or_, select, tuple_, update
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
Combine = Literal["set", "add", "greatest"]
"""How an update's value meets the stored one: replaces it, is added to it, or replaces it
only when larger (or when it is NULL)."""
_Key = tuple[str, str, tuple[str, ...], tuple[tuple[str, Combine], ...]]
_compiled: dict[_Key, tuple[str, list[tuple[str, str, _Processor]]]] = {}
"""(dialect, table, key columns, (column, combine)...) -> the UPDATE's SQL and, in the order
its parameters take, each parameter's name, column and bind processor."""


def _update_many(
    session: Session,
    table: Table,
    changed: list[dict[str, object]],
    *,
    keys: Sequence[str] | None = None,
    combine: Mapping[str, Combine] | None = None,
) -> int:
    """One executemany of an UPDATE by ``keys`` (the primary key by default), compiled once
    per dialect and columns, the rows converted by the columns' own bind processors:
    SQLAlchemy's general path spends most of a batch's time per row and per parameter.
    Returns the rows matched (-1 when the driver cannot count an executemany's rows)."""
    connection = session.connection()
    dialect = connection.dialect
    keys = list(keys or [column.name for column in table.primary_key.columns])
    names = [name for name in changed[0] if name not in keys]
    how = tuple((name, (combine or {}).get(name, "set")) for name in names)
    cache_key = (dialect.name, table.name, tuple(keys), how)
    found = _compiled.get(cache_key)
    if found is None:
        # bound parameters may not take a column's own name in an UPDATE
        stmt = (
            update(table)
            .where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
            .values({name: _combined(table.c[name], rule) for name, rule in how})
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
        found = _compiled[cache_key] = (compiled.string, params)
    sql, params = found
    if dialect.positional:
        rows: list[Any] = [
            tuple(row[c] if p is None else p(row[c]) for _, c, p in params) for row in changed
        ]
    else:
        rows = [{n: row[c] if p is None else p(row[c]) for n, c, p in params} for row in changed]
    result = connection.exec_driver_sql(sql, rows)
    return int(result.rowcount) if dialect.supports_sane_multi_rowcount else -1


def _combined(column: ColumnElement[Any], rule: Combine) -> ColumnElement[Any]:
    value = bindparam(f"new_{column.key}", type_=column.type)
    if rule == "add":
        return column + value
    if rule == "greatest":
        return case((or_(column.is_(None), column < value), value), else_=column)
    return value


def upsert_many(
    session: Session,
    model: type[Base],
    rows: list[dict[str, object]],
    *,
    keys: Sequence[str],
    combine: Mapping[str, Combine],
    inserted: Callable[[dict[str, object]], dict[str, object]] | None = None,
) -> None:
    """Update ``rows`` by ``keys`` in one executemany, values combined with the stored ones
    (``combine``), without reading them first; rows not stored yet (found when fewer rows
    matched) are inserted, as ``inserted(row)`` makes them (the row itself by default)."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    matched = _update_many(session, table, rows, keys=keys, combine=combine)
    if matched == len(rows):
        return
    # some are new (or the driver cannot count): the stored keys tell which
    stored = {
        tuple(r)
        for r in session.execute(
            select(*(table.c[k] for k in keys)).where(
                tuple_(*(table.c[k] for k in keys)).in_(
                    [tuple(row[k] for k in keys) for row in rows]
                )
                if len(keys) > 1
                else table.c[keys[0]].in_([row[keys[0]] for row in rows])
            )
        )
    }
    missing = [row for row in rows if tuple(row[k] for k in keys) not in stored]
    if missing:
        make = inserted or (lambda row: row)
        session.execute(insert(table), [make(row) for row in missing])
