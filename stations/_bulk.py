"""Writing many rows of one table at once, without the ORM's work per row."""

from __future__ import annotations

from typing import cast

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
        keys = [column.name for column in table.primary_key.columns]
        names = [name for name in changed[0] if name not in keys]
        # bound parameters may not take a column's own name in an UPDATE
        stmt = (
            update(table)
            .where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
            .values({name: bindparam(f"new_{name}") for name in names})
        )
        session.execute(
            stmt,
            [
                {**{f"key_{k}": row[k] for k in keys}, **{f"new_{n}": row[n] for n in names}}
                for row in changed
            ],
        )
