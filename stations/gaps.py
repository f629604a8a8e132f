"""Data gaps: spans of a channel missing from what was received, stored as they are found.

The worker stores a gap when a channel's data resume after a span without it (a restart, a
reconnection, a server that no longer held the data, or a gap in the stream itself), and
shrinks, splits or removes gaps that a late record fills. Operators read them through the
API, health and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stations.models import DataGap

__all__ = ["NewGap", "add_gaps", "fill_gaps", "gap_totals", "list_gaps"]


@dataclass(frozen=True)
class NewGap:
    network: str
    station: str
    location: str
    channel: str
    start: datetime
    """The last sample before the gap."""
    end: datetime
    """The first sample after it."""
    sampling_rate: float
    cause: str


def add_gaps(session: Session, *, gaps: Sequence[NewGap], now: datetime) -> None:
    """Store gaps (one statement); flushes, never commits."""
    for g in gaps:
        session.add(
            DataGap(
                network=g.network,
                station=g.station,
                location=g.location,
                channel=g.channel,
                start=g.start,
                end=g.end,
                seconds=_missing(g.start, g.end, g.sampling_rate),
                cause=g.cause,
                detected_at=now,
            )
        )
    if gaps:
        session.flush()


def fill_gaps(
    session: Session,
    *,
    codes: tuple[str, str, str, str],
    start: datetime,
    end: datetime,
    sampling_rate: float,
) -> int:
    """A late record covering ``start`` .. ``end`` (its first and last sample) arrived:
    shrink, split or remove the channel's gaps it falls in. Returns how many gaps changed."""
    network, station, location, channel = codes
    stmt = select(DataGap).where(
        DataGap.network == network,
        DataGap.station == station,
        DataGap.location == location,
        DataGap.channel == channel,
        DataGap.start < end,
        DataGap.end > start,
    )
    changed = 0
    keep = 1.5 / sampling_rate  # at least one sample still missing
    for gap in session.scalars(stmt):
        changed += 1
        left = (start - gap.start).total_seconds() > keep
        right = (gap.end - end).total_seconds() > keep
        if not (left or right):
            session.delete(gap)
            continue
        if left and right:
            session.add(
                DataGap(
                    network=network,
                    station=station,
                    location=location,
                    channel=channel,
                    start=end,
                    end=gap.end,
                    seconds=_missing(end, gap.end, sampling_rate),
                    cause=gap.cause,
                    detected_at=gap.detected_at,
                )
            )
        if left:
            gap.end = start
        else:
            gap.start = end
        gap.seconds = _missing(gap.start, gap.end, sampling_rate)
    session.flush()
    return changed


def list_gaps(
    session: Session,
    *,
    network: str | None = None,
    station: str | None = None,
    after: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> Sequence[DataGap]:
    """Gaps in the order they were stored (``after``: a cursor, the last id seen)."""
    stmt = select(DataGap).order_by(DataGap.id).limit(limit)
    if network is not None:
        stmt = stmt.where(DataGap.network == network)
    if station is not None:
        stmt = stmt.where(DataGap.station == station)
    if after is not None:
        stmt = stmt.where(DataGap.id > after)
    if since is not None:
        stmt = stmt.where(DataGap.end >= since)
    return session.scalars(stmt).all()


def gap_totals(session: Session) -> dict[tuple[str, str, str, str], tuple[int, float]]:
    """Per channel codes: the number of gaps stored and their missing seconds."""
    stmt = select(
        DataGap.network,
        DataGap.station,
        DataGap.location,
        DataGap.channel,
        func.count(),
        func.sum(DataGap.seconds),
    ).group_by(DataGap.network, DataGap.station, DataGap.location, DataGap.channel)
    return {
        (n, s, loc, c): (int(count), float(total or 0.0))
        for n, s, loc, c, count, total in session.execute(stmt)
    }


def _missing(start: datetime, end: datetime, sampling_rate: float) -> float:
    """Seconds without samples between the sample at ``start`` and the one at ``end``."""
    return max(0.0, (end - start).total_seconds() - 1.0 / sampling_rate)
