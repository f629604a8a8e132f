"""Response schemas of early-warning alerts (kept beside ``api.schemas``, whose models they
follow).

A version's ``content`` is the message as the worker stored it; ``place`` and ``sites`` are
what a reader (the dashboard's banner, a script) needs of it without knowing its keys: the
epicentre in words, and each target site's predicted intensity and S arrival time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from api.places import place_name, site_label
from stations.models import Alert, AlertVersion, Station

__all__ = [
    "AlertOut",
    "AlertSiteOut",
    "AlertVersionOut",
    "alert_out",
    "alert_station_ids",
    "alert_version_out",
]


class AlertSiteOut(BaseModel):
    """A target site (``[alerts.sites]``) as one version of a network alert predicts it."""

    name: str
    latitude: float
    longitude: float
    mmi: float = Field(description="predicted intensity (MMI) at the site")
    s_arrival: datetime = Field(description="predicted arrival time of the S wave at the site")
    warning_s: float = Field(
        description="seconds from the message being made to the S arrival (negative: the S "
        "wave had passed: the site was in the blind zone)"
    )
    alert: bool = Field(description="the predicted intensity reaches the site's threshold")


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
    place: str | None = Field(
        None,
        description='the estimated epicentre in words, "12 km SW of Sarez", from the nearest '
        "station the alert used (as events say it)",
    )
    sites: list[AlertSiteOut] = Field(
        default_factory=list,
        description="each target site's predicted intensity and S arrival (network alerts "
        "created or updated; empty for cancelled and ended messages)",
    )
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


def alert_station_ids(versions: Iterable[AlertVersion]) -> set[str]:
    """The stations (``NET.STA``) the versions name: those :func:`alert_version_out` needs to
    say where an epicentre is (``stations.alerts.alert_stations`` reads them)."""
    out: set[str] = set()
    for v in versions:
        named = (v.content or {}).get("stations") or []
        out.update(str(s) for s in named if isinstance(s, str))
    return out


def _place(v: AlertVersion, stations: Mapping[str, Station]) -> str | None:
    if v.latitude is None or v.longitude is None:
        return None
    used = [stations[s] for s in alert_station_ids([v]) if s in stations]
    return place_name(
        v.latitude,
        v.longitude,
        ((s.latitude, s.longitude, site_label(s.site_name, s.code)) for s in used),
    )


def _sites(v: AlertVersion) -> list[AlertSiteOut]:
    """The sites of the message, those the worker stored whole (an older or foreign
    message's site without its S arrival is left out, not an error)."""
    out = []
    for site in (v.content or {}).get("sites") or []:
        try:
            out.append(AlertSiteOut.model_validate(site))
        except ValidationError:
            continue
    return out


def alert_version_out(
    v: AlertVersion, alert: Alert, stations: Mapping[str, Station] | None = None
) -> AlertVersionOut:
    """A version as the API shows it; ``stations``: those it names, by ``NET.STA``, for its
    ``place`` (None without them)."""
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
        place=_place(v, stations or {}),
        sites=_sites(v),
        reason=v.reason,
        content=v.content,
    )


def alert_out(a: Alert, stations: Mapping[str, Station] | None = None) -> AlertOut:
    versions = [alert_version_out(v, a, stations) for v in a.versions]
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
