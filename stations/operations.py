"""What operators on duty write about a station: acknowledgements of its state ("I've seen
it, I'm on it") and maintenance (a field visit) with a note.

An acknowledgement points at the state change that began the state it acknowledges, so a
station's next change leaves it unacknowledged again. Maintenance is only shown: the
station's state is still evaluated and stored as usual.

Both writes start by taking the station's row (:func:`lock_station`): writers of one station
take turns, so a state is acknowledged once, and on SQLite the write lock is held before
anything is read.

Like every query module: keyword-only arguments, ``flush`` but never ``commit``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from stations.errors import LarzaError, NotFoundError
from stations.models import (
    Acknowledgement,
    ApiKey,
    HealthState,
    Network,
    StateChange,
    Station,
    StationMaintenance,
)

__all__ = [
    "COMMENT_MAX",
    "UNCHANGED",
    "AcknowledgementConflict",
    "Unchanged",
    "acknowledge_state",
    "acknowledgements_of",
    "current_acknowledgements",
    "list_acknowledgements",
    "lock_station",
    "maintenances",
    "set_maintenance",
]

COMMENT_MAX = 1000
"""Longest comment of an acknowledgement, and longest maintenance note."""


class AcknowledgementConflict(LarzaError):
    """The station's current state cannot be acknowledged: it is OK, the station has no
    state yet, or the state is acknowledged already."""

    def __init__(self, station: str, reason: str) -> None:
        super().__init__(f"{station} {reason}")
        self.station = station
        self.reason = reason


class Unchanged(enum.Enum):
    """The type of :data:`UNCHANGED`: a field a partial update leaves as it is."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


def lock_station(session: Session, *, network: str, station: str) -> int:
    """The id of station ``network.station``, its row held for writing until the caller's
    transaction ends; ``NotFoundError`` when there is no such station.

    Call it first in a transaction: it is a write (an update that changes nothing). On
    PostgreSQL that locks the row, so a second writer of the station waits for the first to
    commit; on SQLite it takes the database's write lock before anything is read (a
    transaction that read first could not write after another process had written).
    """
    network_id = select(Network.id).where(Network.code == network).scalar_subquery()
    found = session.scalars(
        update(Station)
        .where(Station.network_id == network_id, Station.code == station)
        .values(code=Station.code)
        .returning(Station.id)
        .execution_options(synchronize_session=False)  # nothing changes
    ).one_or_none()
    if found is None:
        raise NotFoundError("station", f"{network}.{station}")
    return found


def acknowledge_state(
    session: Session, *, network: str, station: str, api_key_id: int, comment: str, now: datetime
) -> Acknowledgement:
    """Acknowledge the current state of station ``network.station`` (its latest change).

    Raises ``NotFoundError`` for an unknown station and :class:`AcknowledgementConflict`
    when the station is OK, has no state yet, or its state is acknowledged already.
    The acknowledgement comes back with its state change and API key loaded.
    """
    name = f"{network}.{station}"
    if not comment or len(comment) > COMMENT_MAX:
        raise LarzaError(f"a comment needs 1 to {COMMENT_MAX} characters, got {len(comment)}")
    station_id = lock_station(session, network=network, station=station)
    change = session.scalars(
        select(StateChange)
        .where(StateChange.station_id == station_id)
        .order_by(StateChange.id.desc())
        .limit(1)
    ).first()
    if change is None:
        raise AcknowledgementConflict(name, "has no state yet: nothing to acknowledge")
    if change.to_state is HealthState.OK:
        raise AcknowledgementConflict(name, "is OK: nothing to acknowledge")
    earlier = acknowledgements_of(session, state_change_ids=[change.id]).get(change.id)
    if earlier is not None:
        raise AcknowledgementConflict(
            name,
            f"is {change.to_state.value} (since {change.time:%Y-%m-%d %H:%M:%S} UTC), "
            f"acknowledged already by {earlier.api_key.name!r} "
            f"at {earlier.created_at:%Y-%m-%d %H:%M:%S} UTC",
        )
    key = session.get(ApiKey, api_key_id)
    if key is None:
        raise NotFoundError("API key", str(api_key_id))
    acknowledgement = Acknowledgement(
        station_id=station_id,
        state_change=change,
        api_key=key,
        comment=comment,
        created_at=now,
    )
    session.add(acknowledgement)
    session.flush()
    return acknowledgement


def acknowledgements_of(
    session: Session, *, state_change_ids: Iterable[int]
) -> dict[int, Acknowledgement]:
    """The acknowledgement of each of these state changes that has one, by change id."""
    ids = list(state_change_ids)
    if not ids:
        return {}
    stmt = (
        select(Acknowledgement)
        .where(Acknowledgement.state_change_id.in_(ids))
        .options(selectinload(Acknowledgement.api_key))
    )
    return {a.state_change_id: a for a in session.scalars(stmt)}


def current_acknowledgements(
    session: Session, *, station_ids: Iterable[int]
) -> dict[int, Acknowledgement]:
    """By station id: the acknowledgement of the station's current state, where it has one."""
    ids = list(station_ids)
    if not ids:
        return {}
    latest = (
        select(StateChange.station_id, func.max(StateChange.id).label("id"))
        .where(StateChange.station_id.in_(ids))
        .group_by(StateChange.station_id)
        .subquery()
    )
    stmt = (
        select(Acknowledgement)
        .join(latest, Acknowledgement.state_change_id == latest.c.id)
        .options(selectinload(Acknowledgement.api_key))
    )
    return {a.station_id: a for a in session.scalars(stmt)}


def list_acknowledgements(
    session: Session, *, station_id: int, limit: int = 100
) -> Sequence[Acknowledgement]:
    """A station's acknowledgements, newest first, with their state changes and keys."""
    stmt = (
        select(Acknowledgement)
        .where(Acknowledgement.station_id == station_id)
        .options(selectinload(Acknowledgement.api_key), selectinload(Acknowledgement.state_change))
        .order_by(Acknowledgement.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


def set_maintenance(
    session: Session,
    *,
    network: str,
    station: str,
    api_key_id: int,
    now: datetime,
    active: bool | Unchanged = UNCHANGED,
    note: str | Unchanged | None = UNCHANGED,
) -> StationMaintenance:
    """Put station ``network.station`` in maintenance or take it out (``active``), and/or set
    or clear (None) its note; what is :data:`UNCHANGED` stays as it is.

    A station never put in maintenance starts out of it. ``since`` moves when ``active``
    changes; every call records the key and the time. The row comes back with its key
    loaded.
    """
    if note is not UNCHANGED and note is not None and not 1 <= len(note) <= COMMENT_MAX:
        raise LarzaError(f"a note needs 1 to {COMMENT_MAX} characters, got {len(note)}")
    station_id = lock_station(session, network=network, station=station)
    key = session.get(ApiKey, api_key_id)
    if key is None:
        raise NotFoundError("API key", str(api_key_id))
    row = session.get(StationMaintenance, station_id)
    if row is None:
        row = StationMaintenance(station_id=station_id, active=False, note=None, since=now)
        session.add(row)
    if active is not UNCHANGED and active != row.active:
        row.active, row.since = active, now
    if note is not UNCHANGED:
        row.note = note
    row.api_key, row.updated_at = key, now
    session.flush()
    return row


def maintenances(session: Session, *, station_ids: Iterable[int]) -> dict[int, StationMaintenance]:
    """By station id: the maintenance row of each station that has one, with its key."""
    ids = list(station_ids)
    if not ids:
        return {}
    stmt = (
        select(StationMaintenance)
        .where(StationMaintenance.station_id.in_(ids))
        .options(selectinload(StationMaintenance.api_key))
    )
    return {m.station_id: m for m in session.scalars(stmt)}
