"""What the worker knows of an earthquake beyond its detections: origin versions with their
arrivals, station and network magnitudes, station ground motion; and how they are read back.

Query functions flush, never commit: the caller owns the transaction (the worker's batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

from stations.models import (
    Arrival,
    Event,
    EventDetection,
    LocationStatus,
    Origin,
    PredictedArrival,
    Station,
    StationMagnitude,
    StationMotion,
)

__all__ = [
    "DetectionUse",
    "EventQuake",
    "NewArrival",
    "NewMagnitude",
    "NewMotion",
    "NewOrigin",
    "NewPrediction",
    "delete_event",
    "detection_uses",
    "event_quakes",
    "store_magnitudes",
    "store_motions",
    "store_origin",
]


@dataclass(frozen=True)
class NewArrival:
    detection_id: int
    phase: str
    residual: float | None
    weight: float
    distance_km: float | None
    azimuth: float | None


@dataclass(frozen=True)
class NewPrediction:
    """A phase's arrival time a located origin predicts at a station."""

    station_id: int
    phase: str
    time: datetime
    distance_km: float


@dataclass(frozen=True)
class NewOrigin:
    """An origin as the locator gave it; ``None`` where it cannot say."""

    status: LocationStatus
    reason: str
    time: datetime | None
    latitude: float | None
    longitude: float | None
    depth_km: float | None
    rms: float | None
    n_phases: int
    n_stations: int
    azimuthal_gap: float | None
    min_distance_km: float | None
    max_distance_km: float | None
    time_error_s: float | None
    latitude_error_km: float | None
    longitude_error_km: float | None
    depth_error_km: float | None
    semi_major_km: float | None
    semi_minor_km: float | None
    ellipse_azimuth: float | None
    quality: str
    arrivals: tuple[NewArrival, ...]
    predicted: tuple[NewPrediction, ...] = ()


@dataclass(frozen=True)
class NewMagnitude:
    station_id: int
    channels: tuple[str, ...]
    amplitudes_mm: tuple[float, ...]
    distance_km: float
    magnitude: float
    correction: float
    used: bool


@dataclass(frozen=True)
class NewMotion:
    station_id: int
    channels: tuple[str, ...]
    distance_km: float | None
    pga_cms2: float
    pgv_cms: float
    psa_g_pct: tuple[float, float, float]  # 0.3, 1.0, 3.0 s
    intensity: float


def store_origin(session: Session, *, event: Event, origin: NewOrigin, now: datetime) -> Origin:
    """A new origin version of ``event`` with its arrivals; the event's place follows it."""
    version = session.scalar(
        select(func.coalesce(func.max(Origin.version), 0)).where(Origin.event_id == event.id)
    )
    row = Origin(
        event_id=event.id,
        version=int(version or 0) + 1,
        status=origin.status,
        reason=origin.reason[:200],
        time=origin.time,
        latitude=origin.latitude,
        longitude=origin.longitude,
        depth_km=origin.depth_km,
        rms=origin.rms,
        n_phases=origin.n_phases,
        n_stations=origin.n_stations,
        azimuthal_gap=origin.azimuthal_gap,
        min_distance_km=origin.min_distance_km,
        max_distance_km=origin.max_distance_km,
        time_error_s=origin.time_error_s,
        latitude_error_km=origin.latitude_error_km,
        longitude_error_km=origin.longitude_error_km,
        depth_error_km=origin.depth_error_km,
        semi_major_km=origin.semi_major_km,
        semi_minor_km=origin.semi_minor_km,
        ellipse_azimuth=origin.ellipse_azimuth,
        quality=origin.quality,
        created_at=now,
    )
    session.add(row)
    session.flush()
    if origin.arrivals:  # one executemany: a large quake's version has thousands
        session.execute(
            insert(Arrival),
            [
                {
                    "origin_id": row.id,
                    "detection_id": a.detection_id,
                    "phase": a.phase,
                    "residual": a.residual,
                    "weight": a.weight,
                    "distance_km": a.distance_km,
                    "azimuth": a.azimuth,
                }
                for a in origin.arrivals
            ],
        )
    if origin.predicted:
        session.execute(
            insert(PredictedArrival),
            [
                {
                    "origin_id": row.id,
                    "station_id": p.station_id,
                    "phase": p.phase,
                    "time": p.time,
                    "distance_km": p.distance_km,
                }
                for p in origin.predicted
            ],
        )
    event.latitude = origin.latitude
    event.longitude = origin.longitude
    event.depth_km = origin.depth_km
    session.flush()
    return row


def store_magnitudes(
    session: Session,
    *,
    event: Event,
    magnitude: float | None,
    uncertainty: float | None,
    count: int | None,
    energy_class: float | None,
    stations: Sequence[NewMagnitude],
) -> None:
    """The event's network magnitude and its station magnitudes, replacing earlier ones."""
    session.execute(delete(StationMagnitude).where(StationMagnitude.event_id == event.id))
    session.add_all(
        StationMagnitude(
            event_id=event.id,
            station_id=m.station_id,
            channels=",".join(m.channels)[:40],
            amplitudes_mm=",".join(f"{a:.6g}" for a in m.amplitudes_mm)[:100],
            distance_km=m.distance_km,
            magnitude=m.magnitude,
            correction=m.correction,
            used=m.used,
        )
        for m in stations
    )
    event.magnitude = magnitude
    event.magnitude_uncertainty = uncertainty
    event.magnitude_stations = count
    event.energy_class = energy_class
    session.flush()


def store_motions(session: Session, *, event: Event, motions: Sequence[NewMotion]) -> None:
    """The event's station ground motion, replacing earlier values."""
    session.execute(delete(StationMotion).where(StationMotion.event_id == event.id))
    session.add_all(
        StationMotion(
            event_id=event.id,
            station_id=m.station_id,
            channels=",".join(m.channels)[:40],
            distance_km=m.distance_km,
            pga_cms2=m.pga_cms2,
            pgv_cms=m.pgv_cms,
            psa03_g_pct=m.psa_g_pct[0],
            psa10_g_pct=m.psa_g_pct[1],
            psa30_g_pct=m.psa_g_pct[2],
            intensity=m.intensity,
        )
        for m in motions
    )
    session.flush()


def delete_event(session: Session, *, event_id: int) -> None:
    """An event withdrawn (a better event took its picks): it and all it holds go; its
    detections stay."""
    origins = select(Origin.id).where(Origin.event_id == event_id)
    session.execute(delete(Arrival).where(Arrival.origin_id.in_(origins)))
    session.execute(delete(PredictedArrival).where(PredictedArrival.origin_id.in_(origins)))
    for table in (Origin, StationMagnitude, StationMotion, EventDetection):
        session.execute(delete(table).where(table.event_id == event_id))
    session.execute(delete(Event).where(Event.id == event_id))
    session.flush()


@dataclass(frozen=True)
class EventQuake:
    """What an event holds beyond its detections, as read back for display."""

    origin: Origin | None  # the latest version, with its arrivals and predicted arrivals
    origins: int  # how many versions
    magnitudes: tuple[StationMagnitude, ...]
    motions: tuple[StationMotion, ...]


def event_quakes(session: Session, *, event_ids: Iterable[int]) -> Mapping[int, EventQuake]:
    """The latest origin (with arrivals), station magnitudes and ground motion of events."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    latest: dict[int, Origin] = {}
    counts: dict[int, int] = {}
    magnitudes: dict[int, list[StationMagnitude]] = {i: [] for i in ids}
    motions: dict[int, list[StationMotion]] = {i: [] for i in ids}
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        newest = (
            select(Origin.event_id, func.max(Origin.version).label("v"), func.count().label("n"))
            .where(Origin.event_id.in_(part))
            .group_by(Origin.event_id)
            .subquery()
        )
        stmt = (
            select(Origin, newest.c.n)
            .join(newest, (Origin.event_id == newest.c.event_id) & (Origin.version == newest.c.v))
            .options(
                selectinload(Origin.arrivals),
                selectinload(Origin.predicted)
                .selectinload(PredictedArrival.station)
                .selectinload(Station.network),
            )
        )
        for origin, n in session.execute(stmt):
            latest[origin.event_id] = origin
            counts[origin.event_id] = int(n)
        station = selectinload(StationMagnitude.station).selectinload(Station.network)
        for m in session.scalars(
            select(StationMagnitude)
            .where(StationMagnitude.event_id.in_(part))
            .options(station)
            .order_by(StationMagnitude.distance_km)
        ):
            magnitudes[m.event_id].append(m)
        for g in session.scalars(
            select(StationMotion)
            .where(StationMotion.event_id.in_(part))
            .options(selectinload(StationMotion.station).selectinload(Station.network))
            .order_by(StationMotion.distance_km)
        ):
            motions[g.event_id].append(g)
    return {
        i: EventQuake(latest.get(i), counts.get(i, 0), tuple(magnitudes[i]), tuple(motions[i]))
        for i in ids
    }


@dataclass(frozen=True)
class DetectionUse:
    """The event a detection belongs to and, when located, how its latest origin uses it."""

    event_id: int
    arrival: Arrival | None


def detection_uses(session: Session, *, detection_ids: Iterable[int]) -> dict[int, DetectionUse]:
    """Per detection (those in an event): its event and its arrival in the latest origin."""
    ids = sorted(set(detection_ids))
    out: dict[int, DetectionUse] = {}
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        stmt = select(EventDetection.detection_id, EventDetection.event_id).where(
            EventDetection.detection_id.in_(part)
        )
        links = {int(d): int(e) for d, e in session.execute(stmt)}
        if not links:
            continue
        newest = (
            select(Origin.event_id, func.max(Origin.version).label("v"))
            .where(Origin.event_id.in_(set(links.values())))
            .group_by(Origin.event_id)
            .subquery()
        )
        arrivals = {
            a.detection_id: a
            for a in session.scalars(
                select(Arrival)
                .join(Origin, Origin.id == Arrival.origin_id)
                .join(
                    newest, (Origin.event_id == newest.c.event_id) & (Origin.version == newest.c.v)
                )
                .where(Arrival.detection_id.in_(part))
            )
        }
        for detection_id, event_id in links.items():
            out[detection_id] = DetectionUse(event_id, arrivals.get(detection_id))
    return out
