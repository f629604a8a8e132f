"""Early-warning alerts and their versions: each message an alert sends (created, updated,
cancelled, ended) is a row of its own, kept as sent, and a change in the change log (the SSE
stream and webhooks carry it at once).

Like every query module: keyword-only arguments, ``flush`` but never ``commit``; the caller
calls :func:`stations.changes.log_changes` with what these return, last in its transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from stations.errors import LarzaError, NotFoundError
from stations.models import Alert, AlertVersion, ChangeKind, Network, Station

__all__ = [
    "ACTIONS",
    "STEPS",
    "AlertClosedError",
    "AlertMessage",
    "active_alerts",
    "add_alert_version",
    "alert_changes",
    "alert_stations",
    "alert_step_latencies",
    "get_alert",
    "list_alerts",
]

Action = Literal["created", "updated", "cancelled", "ended"]
ACTIONS: tuple[Action, ...] = ("created", "updated", "cancelled", "ended")
_STATUS = {"created": "active", "updated": "active", "cancelled": "cancelled", "ended": "ended"}


@dataclass(frozen=True)
class AlertMessage:
    """What one version of an alert says."""

    action: Action
    kind: Literal["onsite", "network"] = "network"
    origin_time: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    depth_km: float | None = None
    magnitude: float | None = None
    magnitude_sigma: float | None = None
    station: str | None = None
    reason: str | None = None
    content: dict[str, Any] = field(default_factory=dict)


class AlertClosedError(LarzaError):
    """A version was added to an alert already cancelled or ended."""

    def __init__(self, alert_id: int, status: str) -> None:
        super().__init__(f"alert {alert_id} is {status}: it takes no more versions")
        self.alert_id = alert_id
        self.status = status


def add_alert_version(
    session: Session, *, alert_id: int | None, message: AlertMessage, now: datetime
) -> AlertVersion:
    """Create an alert (``alert_id`` None, action ``created``) or add the next version of
    one; returns the version, whose id is the change to log (``ChangeKind.ALERT``)."""
    if alert_id is None:
        if message.action != "created":
            raise ValueError(f"a new alert starts with 'created', got {message.action!r}")
        alert = Alert(kind=message.kind, status="active", version=1, created_at=now, updated_at=now)
        session.add(alert)
        session.flush()
    else:
        found = session.get(Alert, alert_id, with_for_update=True)
        if found is None:
            raise NotFoundError("alert", str(alert_id))
        alert = found
        if alert.status != "active":
            raise AlertClosedError(alert.id, alert.status)
        if message.action == "created":
            raise ValueError(f"alert {alert_id} exists: 'created' starts a new one")
        alert.version += 1
        alert.status = _STATUS[message.action]
        alert.updated_at = now
    version = AlertVersion(
        alert_id=alert.id,
        version=alert.version,
        action=message.action,
        sent_at=now,
        origin_time=message.origin_time,
        latitude=message.latitude,
        longitude=message.longitude,
        depth_km=message.depth_km,
        magnitude=message.magnitude,
        magnitude_sigma=message.magnitude_sigma,
        station=message.station,
        reason=message.reason,
        content=message.content,
    )
    session.add(version)
    session.flush()
    return version


def alert_changes(versions: Sequence[AlertVersion]) -> list[tuple[ChangeKind, int]]:
    """The change-log entries of new versions."""
    return [(ChangeKind.ALERT, v.id) for v in versions]


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[Alert]:
    """Alerts in ``id`` order after the cursor, with their versions; ``start``/``end``: the
    alerts created at or after ``start`` and before ``end``."""
    stmt = select(Alert).options(selectinload(Alert.versions))
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if start is not None:
        stmt = stmt.where(Alert.created_at >= start)
    if end is not None:
        stmt = stmt.where(Alert.created_at < end)
    if after_id is not None:
        stmt = stmt.where(Alert.id > after_id)
    return session.scalars(stmt.order_by(Alert.id).limit(limit)).all()


def get_alert(session: Session, *, alert_id: int) -> Alert:
    """One alert with its versions."""
    found = session.scalars(
        select(Alert).where(Alert.id == alert_id).options(selectinload(Alert.versions))
    ).first()
    if found is None:
        raise NotFoundError("alert", str(alert_id))
    return found


def alert_stations(session: Session, *, ids: Collection[str]) -> dict[str, Station]:
    """The stations named ``NET.STA`` in ``ids`` (those the inventory has), by that name: where
    an alert's epicentre is said in words from."""
    wanted = {tuple(i.split(".", 1)) for i in ids if "." in i}
    if not wanted:
        return {}
    stmt = (
        select(Station, Network.code)
        .join(Network, Station.network_id == Network.id)
        .where(Network.code.in_({n for n, _ in wanted}), Station.code.in_({s for _, s in wanted}))
    )
    out: dict[str, Station] = {}
    for station, network in session.execute(stmt):
        if (network, station.code) in wanted:
            out[f"{network}.{station.code}"] = station
    return out


def active_alerts(session: Session) -> Sequence[Alert]:
    """Alerts not cancelled or ended, with their versions (a restarted worker continues
    them)."""
    stmt = select(Alert).where(Alert.status == "active").options(selectinload(Alert.versions))
    return session.scalars(stmt.order_by(Alert.id)).all()


STEPS = ("detect", "warn", "store")
"""The worker's steps from a record's arrival to an alert message stored, each timed into the
message's ``content["latency_s"]``: the batch's records decoded, archived and detected on up
to the one that made the message (``detect``), the warning's estimate (``warn``), and the
message stored (``store``, before the commit)."""


def alert_step_latencies(session: Session, *, limit: int = 1000) -> dict[str, list[float]]:
    """Seconds each step took for the newest ``limit`` alert messages (for /metrics)."""
    rows = session.scalars(
        select(AlertVersion.content).order_by(AlertVersion.id.desc()).limit(limit)
    ).all()
    out: dict[str, list[float]] = {step: [] for step in STEPS}
    for content in rows:
        timed = (content or {}).get("latency_s") or {}
        for step in STEPS:
            value = timed.get(step)
            if isinstance(value, int | float):
                out[step].append(float(value))
    return out
