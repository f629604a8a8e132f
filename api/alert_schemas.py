"""Response schemas of early-warning alerts (kept beside ``api.schemas``, whose models they
follow)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from stations.models import Alert, AlertVersion

__all__ = ["AlertOut", "AlertVersionOut", "alert_out", "alert_version_out"]


class AlertVersionOut(BaseModel):
    alert_id: int
    version: int = Field(description="1 for the first message, then one more a message")
    action: Literal["created", "updated", "cancelled", "ended"]
    kind: Literal["onsite", "network"]
    sent_at: datetime
    origin_time: datetime | None = Field(description="estimated origin time (network alerts)")
    latitude: float | None
    longitude: float | None
    depth_km: float | None
    magnitude: float | None = Field(description="early estimate: saturates above about M 6.5")
    magnitude_sigma: float | None
    station: str | None = Field(description="NET.STA whose shaking made an on-site alert")
    reason: str | None = Field(description="why it was updated, cancelled or ended")
    content: dict[str, Any] = Field(
        description="sites: predicted intensity, S arrival and warning time at each target "
        "site; stations and picks used"
    )


class AlertOut(BaseModel):
    id: int
    kind: Literal["onsite", "network"]
    status: Literal["active", "cancelled", "ended"]
    version: int
    created_at: datetime
    updated_at: datetime
    latest: AlertVersionOut
    versions: list[AlertVersionOut] = Field(description="every message sent, oldest first")


def alert_version_out(v: AlertVersion, alert: Alert) -> AlertVersionOut:
    return AlertVersionOut(
        alert_id=v.alert_id,
        version=v.version,
        action=v.action,
        kind=alert.kind,
        sent_at=v.sent_at,
        origin_time=v.origin_time,
        latitude=v.latitude,
        longitude=v.longitude,
        depth_km=v.depth_km,
        magnitude=v.magnitude,
        magnitude_sigma=v.magnitude_sigma,
        station=v.station,
        reason=v.reason,
        content=v.content,
    )


def alert_out(a: Alert) -> AlertOut:
    versions = [alert_version_out(v, a) for v in a.versions]
    return AlertOut(
        id=a.id,
        kind=a.kind,
        status=a.status,
        version=a.version,
        created_at=a.created_at,
        updated_at=a.updated_at,
        latest=versions[-1],
        versions=versions,
    )
