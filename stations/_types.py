"""Column types shared by the tables: timezone-aware UTC times on every backend."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Dialect, Enum, Integer
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that refuses naive values and always returns UTC.

    SQLite stores no time zone, so values are normalised to UTC on the way in and
    marked UTC on the way out; PostgreSQL keeps ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Larza stores timezone-aware UTC times")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UtcTime = Annotated[datetime, mapped_column(UtcDateTime())]

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""Ids and the keys that refer to them: 64-bit. On SQLite an ``INTEGER PRIMARY KEY`` is
already 64-bit, and only that exact spelling numbers new rows by itself."""


def str_enum(cls: type[enum.StrEnum]) -> Enum:
    """A portable VARCHAR column holding a ``StrEnum``'s values (not its member names)."""
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
