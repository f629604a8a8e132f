"""Storage of station health: latest channel metrics, station states, their history, and
metric snapshots with retention and downsampling.

Like every query module: keyword-only arguments, ``flush`` but never ``commit``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload

from stations._bulk import bulk_write, upsert_many
from stations.models import (
    Channel,
    ChannelHealth,
    HealthSnapshot,
    HealthState,
    StateChange,
    Station,
    StationHealth,
)

HOUR_S = 3600


@dataclass(frozen=True)
class ChannelReport:
    """What a health evaluation found for one channel."""

    channel_id: int
    state: HealthState
    reason: str
    metrics: dict[str, Any]


def save_channel_health(
    session: Session, *, reports: Iterable[ChannelReport], now: datetime
) -> None:
    """Overwrite the latest health of each channel reported: one executemany of updates, and
    an insert of the channels not stored yet, without the ORM's work per row (thousands of
    channels every few seconds)."""
    wanted = {r.channel_id: r for r in reports}
    if not wanted:
        return
    rows: list[dict[str, object]] = [
        {
            "channel_id": channel_id,
            "evaluated_at": now,
            "state": report.state,
            "reason": report.reason[:500],
            "metrics": _json_safe(report.metrics),
        }
        for channel_id, report in wanted.items()
    ]
    upsert_many(session, ChannelHealth, rows, keys=["channel_id"], combine={})


def save_station_states(
    session: Session, *, states: Mapping[int, tuple[HealthState, str]], now: datetime
) -> list[StateChange]:
    """Store stations' current states (``station_id -> (state, reason)``) in two statements;
    the changes of state are added to the history and returned. A station's first state
    counts as a change from UNKNOWN."""
    if not states:
        return []
    current = {
        station_id: (state, since)
        for station_id, state, since in session.execute(
            select(StationHealth.station_id, StationHealth.state, StationHealth.since).where(
                StationHealth.station_id.in_(list(states))
            )
        )
    }
    added: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    changes: list[StateChange] = []
    for station_id, (state, reason) in states.items():
        reason = reason[:1000]
        previous, since = current.get(station_id, (None, now))
        if previous is not state:
            since = now
        row: dict[str, object] = {
            "station_id": station_id,
            "state": state,
            "reason": reason,
            "since": since,
            "evaluated_at": now,
        }
        (added if previous is None else changed).append(row)
        previous = previous or HealthState.UNKNOWN
        if previous is not state:
            changes.append(
                StateChange(
                    station_id=station_id,
                    time=now,
                    from_state=previous,
                    to_state=state,
                    reason=reason,
                )
            )
    bulk_write(session, StationHealth, added=added, changed=changed)
    session.add_all(changes)
    session.flush()
    return changes


def save_station_state(
    session: Session, *, station_id: int, state: HealthState, reason: str, now: datetime
) -> StateChange | None:
    """Store one station's current state; its change of state, if any (see
    :func:`save_station_states`)."""
    changes = save_station_states(session, states={station_id: (state, reason)}, now=now)
    return changes[0] if changes else None


def station_states(session: Session) -> dict[int, StationHealth]:
    return {h.station_id: h for h in session.scalars(select(StationHealth))}


def channel_healths(session: Session, *, channel_ids: Iterable[int]) -> dict[int, ChannelHealth]:
    ids = list(channel_ids)
    if not ids:
        return {}
    stmt = select(ChannelHealth).where(ChannelHealth.channel_id.in_(ids))
    return {h.channel_id: h for h in session.scalars(stmt)}


def list_state_changes(
    session: Session,
    *,
    station_ids: Sequence[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[StateChange]:
    """State changes in ``id`` order (the order they happened), after the cursor ``after_id``."""
    stmt = select(StateChange).options(
        selectinload(StateChange.station).selectinload(Station.network)
    )
    if station_ids is not None:
        stmt = stmt.where(StateChange.station_id.in_(list(station_ids)))
    if start is not None:
        stmt = stmt.where(StateChange.time >= start)
    if end is not None:
        stmt = stmt.where(StateChange.time < end)
    if after_id is not None:
        stmt = stmt.where(StateChange.id > after_id)
    return session.scalars(stmt.order_by(StateChange.id).limit(limit)).all()


HISTORY_KEYS = (
    "data_latency_s", "feed_latency_s", "transmission_delay_s", "availability_pct", "gaps",
    "gap_s", "largest_gap_s", "overlaps", "mean", "rms", "flat", "clipped_pct", "spikes",
    "timing_quality_min", "clock_locked", "future_records", "noise_db_above_nlnm",
    "noise_db_above_nhnm", "value",
)  # fmt: skip
"""The metrics kept in history (the latest health keeps them all): what is plotted or
looked back at, each number to 4 significant digits, so a month of a network stays small."""


def history_metrics(state: HealthState, metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state.value}
    for key in HISTORY_KEYS:
        value = metrics.get(key)
        if value is None:
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                continue
            value = float(f"{value:.4g}")
        out[key] = value
    return out


def add_snapshots(
    session: Session, *, reports: Iterable[ChannelReport], now: datetime, interval_s: int
) -> int:
    """Append one history snapshot per channel (the metrics of ``HISTORY_KEYS``) in one
    executemany; returns how many."""
    rows = [
        {
            "channel_id": r.channel_id,
            "time": now,
            "interval_s": interval_s,
            "metrics": history_metrics(r.state, r.metrics),
        }
        for r in reports
    ]
    if rows:
        session.execute(insert(HealthSnapshot), rows)
    return len(rows)


def health_history(
    session: Session,
    *,
    channel_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> Sequence[HealthSnapshot]:
    """A channel's snapshots in time order (hourly means for older times)."""
    stmt = select(HealthSnapshot).where(HealthSnapshot.channel_id == channel_id)
    if start is not None:
        stmt = stmt.where(HealthSnapshot.time >= start)
    if end is not None:
        stmt = stmt.where(HealthSnapshot.time < end)
    if after_id is not None:
        stmt = stmt.where(HealthSnapshot.id > after_id)
    return session.scalars(stmt.order_by(HealthSnapshot.time, HealthSnapshot.id).limit(limit)).all()


def downsample_snapshots(
    session: Session,
    *,
    now: datetime,
    raw_retention: timedelta,
    retention: timedelta,
    batch: int = 50_000,
) -> tuple[int, int]:
    """Fold snapshots older than ``raw_retention`` into hourly means (numbers averaged,
    counts summed as means too, flags true if ever true), and delete hourly ones older than
    ``retention``. Works on at most ``batch`` rows per call so a tick stays short.

    Returns (snapshots folded, hourly snapshots deleted).
    """
    cutoff = now - raw_retention
    old = session.scalars(
        select(HealthSnapshot)
        .where(HealthSnapshot.interval_s < HOUR_S, HealthSnapshot.time < cutoff)
        .order_by(HealthSnapshot.time)
        .limit(batch)
    ).all()
    groups: dict[tuple[int, datetime], list[HealthSnapshot]] = defaultdict(list)
    for snap in old:
        hour = snap.time.replace(minute=0, second=0, microsecond=0)
        groups[(snap.channel_id, hour)].append(snap)
    for (channel_id, hour), snaps in groups.items():
        session.add(
            HealthSnapshot(
                channel_id=channel_id,
                time=hour,
                interval_s=HOUR_S,
                metrics=_mean_metrics([s.metrics for s in snaps]),
            )
        )
    if old:
        session.execute(delete(HealthSnapshot).where(HealthSnapshot.id.in_([s.id for s in old])))
    expired = session.execute(
        delete(HealthSnapshot).where(
            HealthSnapshot.interval_s >= HOUR_S, HealthSnapshot.time < now - retention
        )
    )
    session.flush()
    return len(old), int(getattr(expired, "rowcount", 0) or 0)


def _mean_metrics(snaps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"snapshots": len(snaps)}
    keys = {k for s in snaps for k in s}
    for key in sorted(keys):
        values = [s[key] for s in snaps if s.get(key) is not None]
        if not values:
            out[key] = None
        elif all(isinstance(v, bool) for v in values):
            out[key] = any(values)
        elif all(isinstance(v, int | float) for v in values):
            out[key] = float(f"{sum(values) / len(values):.4g}")
        else:
            out[key] = values[-1]  # words (a state): the latest
    return out


def _json_safe(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as stored: floats to 7 significant digits (history stays small), NaN and
    infinities as null (they are not JSON, and PostgreSQL refuses them). Times (POSIX
    seconds, ``*_time``) keep every digit."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, float):
            if not math.isfinite(value):
                value = None
            elif not key.endswith("_time"):
                value = float(f"{value:.7g}")
        out[key] = value
    return out


def channels_of(session: Session, *, station_ids: Iterable[int]) -> Sequence[Channel]:
    ids = list(station_ids)
    return session.scalars(select(Channel).where(Channel.station_id.in_(ids))).all()
