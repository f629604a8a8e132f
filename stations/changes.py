"""The change log: new detections, new or updated events and station state changes,
numbered in commit order, for the SSE stream and webhooks.

Writers call :func:`log_changes` last in their transaction. On PostgreSQL it first takes a
transaction-level advisory lock, held until commit: ids are then assigned and committed in
the same order, so a reader that has seen id N never sees a smaller id appear later (the
usual hole in a sequence-numbered outbox). SQLite serialises writers anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from stations.models import Change, ChangeKind

_LOCK_KEY = 0x4C41525A  # "LARZ"


def log_changes(
    session: Session, *, changes: Iterable[tuple[ChangeKind, int]], now: datetime
) -> list[Change]:
    """Append ``(kind, ref id)`` changes; call last in the transaction that made them."""
    rows = [Change(kind=kind, ref_id=ref, time=now) for kind, ref in changes]
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    session.add_all(rows)
    session.flush()
    return rows


def changes_after(
    session: Session,
    *,
    after_id: int = 0,
    kinds: Sequence[ChangeKind] | None = None,
    limit: int = 100,
) -> Sequence[Change]:
    stmt = select(Change).where(Change.id > after_id)
    if kinds is not None:
        stmt = stmt.where(Change.kind.in_(list(kinds)))
    return session.scalars(stmt.order_by(Change.id).limit(limit)).all()


def last_change_id(session: Session | Connection) -> int:
    return session.scalar(select(func.max(Change.id))) or 0
