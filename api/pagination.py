"""Cursor pagination: stable ``id`` order and a ``next`` link carrying ``after``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request


def next_link(request: Request, last_id: int | None) -> str | None:
    """The URL of the page after ``last_id``; None when this page was empty."""
    if last_id is None:
        return None
    return str(request.url.include_query_params(after=last_id))


def as_utc(value: datetime | None) -> datetime | None:
    """Query times without a zone are UTC, as in FDSN web services."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
