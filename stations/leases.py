"""Station leases: stations partitioned among ingest workers sharing one database.

Each worker calls ``acquire_leases`` every few seconds in its own transaction. It renews the
leases it holds, takes free or expired ones up to its fair share (stations divided by the
workers alive), and hands back what exceeds its share when another worker has joined. A
worker that dies stops renewing; its leases expire and the others take its stations over.
On PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` so two workers
never take the same station; SQLite serialises writers by itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stations.models import IngestWorker, StationLease

__all__ = ["acquire_leases", "held_leases", "release_leases"]

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
StationCode = tuple[str, str]


def _ensure_rows(session: Session, stations: Sequence[StationCode], now: datetime) -> None:
    rows = [
        {"network": n, "station": s, "worker": None, "expires_at": _NEVER, "updated_at": now}
        for n, s in stations
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(StationLease)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["network", "station"])
    )
    session.execute(stmt)


def _heartbeat(session: Session, worker: str, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(IngestWorker).values(name=worker, started_at=now, seen_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"seen_at": now}))


def acquire_leases(
    session: Session,
    *,
    worker: str,
    stations: Sequence[StationCode],
    now: datetime,
    ttl: timedelta,
) -> set[StationCode]:
    """Renew and take leases among ``stations`` up to a fair share; returns those held.

    A worker that already holds exactly its share of the stations it wants (the usual case)
    renews them in one statement; the rows are looked at one by one only when the share or
    the stations wanted changed.
    """
    wanted = set(stations)
    _heartbeat(session, worker, now)
    alive = IngestWorker.seen_at > now - ttl
    others = session.scalar(select(func.count()).where(IngestWorker.name != worker, alive)) or 0
    share = math.ceil(len(wanted) / (others + 1))
    held = held_leases(session, worker=worker, now=now)
    if held <= wanted and len(held) == min(share, len(wanted)):
        session.execute(
            update(StationLease)
            .where(StationLease.worker == worker)
            .values(expires_at=now + ttl, updated_at=now)
        )
        return held
    _ensure_rows(session, sorted(wanted), now)
    candidates = session.scalars(
        select(StationLease)
        .where(or_(StationLease.worker == worker, StationLease.expires_at <= now))
        .order_by(StationLease.network, StationLease.station)
        .with_for_update(skip_locked=True)
    ).all()
    mine = [c for c in candidates if c.worker == worker and (c.network, c.station) in wanted]
    free = [c for c in candidates if c.worker != worker and (c.network, c.station) in wanted]
    keep, give_back = mine[:share], mine[share:]
    take = free[: max(0, share - len(keep))]
    until = now + ttl
    for lease in keep + take:
        lease.worker, lease.expires_at, lease.updated_at = worker, until, now
    for lease in give_back:
        lease.worker, lease.expires_at, lease.updated_at = None, _NEVER, now
    # Leases of stations this worker no longer wants are handed back too.
    session.execute(
        update(StationLease)
        .where(StationLease.worker == worker)
        .where(~StationLease.id.in_([lease.id for lease in keep + take] or [-1]))
        .values(worker=None, expires_at=_NEVER, updated_at=now)
    )
    session.flush()
    return {(lease.network, lease.station) for lease in keep + take}


def held_leases(session: Session, *, worker: str, now: datetime) -> set[StationCode]:
    """The stations whose lease ``worker`` holds at ``now``."""
    rows = session.execute(
        select(StationLease.network, StationLease.station).where(
            StationLease.worker == worker, StationLease.expires_at > now
        )
    )
    return {(row.network, row.station) for row in rows}


def release_leases(session: Session, *, worker: str, now: datetime) -> None:
    """Hand back every lease of ``worker`` (a clean shutdown), so others take over at once."""
    session.execute(delete(IngestWorker).where(IngestWorker.name == worker))
    session.execute(
        update(StationLease)
        .where(StationLease.worker == worker)
        .values(worker=None, expires_at=_NEVER, updated_at=now)
    )
    session.flush()
