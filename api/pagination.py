"""Cursor pagination: stable ``id`` order and a ``next`` link carrying ``after``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import BeforeValidator

from stations.errors import LarzaError

MAX_ID = 2**63 - 1
"""Ids are 64-bit in the database: a larger number is a 422, not a server error."""

After = Annotated[
    int | None, Query(ge=0, le=MAX_ID, description="cursor: the last id already seen")
]
Limit = Annotated[int, Query(ge=1, le=MAX_ID, description="page size")]

_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso(value: object) -> object:
    """Refuse what pydantic would otherwise read as a time: a bare number of seconds."""
    if isinstance(value, str) and not _ISO_START.match(value):
        raise ValueError("must be an ISO 8601 time such as 2025-06-15T10:00:00Z (UTC if no zone)")
    return value


QueryTime = Annotated[datetime, BeforeValidator(_iso)]
"""A time in a query: ISO 8601 only (``2025-06-15T10:00:00Z``; UTC when it has no zone)."""


def next_link(request: Request, last_id: int | None) -> str | None:
    """The URL of the page after ``last_id``; None when this page was empty."""
    if last_id is None:
        return None
    return str(request.url.include_query_params(after=last_id))


def as_utc(value: datetime | None, name: str = "time") -> datetime | None:
    """A query time in UTC; one without a zone is UTC, as in FDSN web services. A time whose
    offset takes it outside years 1-9999 is refused, naming the parameter."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise LarzaError(f"{name} is out of range: {value.isoformat()}") from None


def checked_window(
    start: datetime | None, end: datetime | None, limit: int, page_size_max: int
) -> tuple[datetime | None, datetime | None]:
    """The time window in UTC, after refusing a reversed window or an oversized page."""
    if limit > page_size_max:
        raise LarzaError(f"limit must be at most {page_size_max}, got {limit}")
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if start is not None and end is not None and end <= start:
        raise LarzaError(f"end must be after start, got start={start}, end={end}")
    return start, end
