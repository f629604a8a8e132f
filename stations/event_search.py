"""Event search: the FDSN event service's filters, ordering and paging done in SQL.

An event's place is its preliminary origin: the station of its first detection (the earliest
onset, then the lowest id), found by a correlated subquery. Since a place is a station, a
region is first turned into the stations in it: the box in SQL, a radius search narrowed in
SQL to the box bounding its circle and then checked exactly with ObsPy's
``locations2degrees``. The events are then those whose first station is one of these, so
every filter, the order, ``offset`` and ``limit`` stay in SQL.

The search reads rows, not ORM objects: one query selects the page of matching events'
columns, a second reads all their detections joined to channel, station and network.
Building ORM instances for a page of events and their detections cost several times the
whole query; the records here are what the FDSN event service writes.

Limitations: without a time window, a region search evaluates the first-station subquery for
events until the page is full, for every event when few match (a stored origin would need a
column of its own).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obspy.geodetics import locations2degrees
from sqlalchemy import ColumnElement, ScalarSelect, Select, or_, select
from sqlalchemy.orm import Session

from stations.models import (
    Channel,
    Detection,
    Event,
    EventDetection,
    EventStatus,
    Network,
    Station,
)

__all__ = ["DetectionRecord", "EventRecord", "Region", "search_events"]

# Slack of the radius search's bounding box, degrees: rounding must never drop a station
# that ``locations2degrees`` puts inside the circle.
_MARGIN = 1e-6


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    """A detection of an event as the event services write it: when, on which stream, where."""

    id: int
    onset_time: datetime
    created_at: datetime
    network: str
    station: str
    location: str
    channel: str
    latitude: float
    longitude: float
    phase: str | None = None
    onset_uncertainty: float | None = None
    polarity: str | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event with its detections (earliest onset first, then lowest id), read-only."""

    id: int
    time: datetime
    status: EventStatus
    n_stations: int
    created_at: datetime
    updated_at: datetime
    detections: tuple[DetectionRecord, ...]

    @property
    def first(self) -> DetectionRecord | None:
        """The first detection: its station is the event's preliminary origin."""
        return self.detections[0] if self.detections else None


@dataclass(frozen=True)
class Region:
    """Where an event's first station must be: in a box and, with ``centre``, at a distance
    in ``radii`` (degrees, inclusive) from it. ``west > east`` crosses the antimeridian."""

    latitudes: tuple[float, float] = (-90.0, 90.0)
    longitudes: tuple[float, float] = (-180.0, 180.0)
    centre: tuple[float, float] | None = None
    radii: tuple[float, float] = (0.0, 180.0)

    def distance_matches(self, latitude: float, longitude: float) -> bool:
        """Whether a point at these coordinates is at a distance in ``radii`` of ``centre``."""
        if self.centre is None:
            return True
        distance = locations2degrees(self.centre[0], self.centre[1], latitude, longitude)
        return bool(self.radii[0] <= distance <= self.radii[1])


def _first_station_id() -> ScalarSelect[int]:
    """A scalar subquery, correlated to ``Event``: the station of the event's first detection
    (the earliest onset, then the lowest id); NULL for an event without detections."""
    return (
        select(Channel.station_id)
        .select_from(EventDetection)
        .join(Detection, Detection.id == EventDetection.detection_id)
        .join(Channel, Channel.id == Detection.channel_id)
        .where(EventDetection.event_id == Event.id)
        .order_by(Detection.onset_time, Detection.id)
        .limit(1)
        .correlate(Event)
        .scalar_subquery()
    )


def _longitude_between(west: float, east: float) -> ColumnElement[bool]:
    if west <= east:
        return Station.longitude.between(west, east)
    return or_(Station.longitude >= west, Station.longitude <= east)


def _cap_bounds(region: Region) -> list[ColumnElement[bool]]:
    """Conditions bounding the circle of ``region.radii[1]`` around ``region.centre``."""
    if region.centre is None or region.radii[1] >= 180.0:
        return []
    latitude, longitude = region.centre
    radius = region.radii[1] + _MARGIN
    bounds: list[ColumnElement[bool]] = [
        Station.latitude.between(latitude - radius, latitude + radius)
    ]
    if abs(latitude) + radius < 90.0:
        ratio = math.sin(math.radians(radius)) / math.cos(math.radians(latitude))
        spread = math.degrees(math.asin(min(1.0, ratio))) + _MARGIN
        if spread < 180.0:
            west, east = longitude - spread, longitude + spread
            west = west + 360.0 if west < -180.0 else west
            east = east - 360.0 if east > 180.0 else east
            bounds.append(_longitude_between(west, east))
    return bounds


_EVENT_COLUMNS = (
    Event.id,
    Event.time,
    Event.status,
    Event.n_stations,
    Event.created_at,
    Event.updated_at,
)


def _stations_in(session: Session, region: Region) -> list[int]:
    """The ids of the stations in ``region``."""
    stmt = select(Station.id, Station.latitude, Station.longitude).where(
        Station.latitude.between(*region.latitudes),
        _longitude_between(*region.longitudes),
        *_cap_bounds(region),
    )
    return [i for i, lat, lon in session.execute(stmt) if region.distance_matches(lat, lon)]


def _matching(
    *,
    start: datetime | None,
    end: datetime | None,
    updated_after: datetime | None,
    event_id: int | None,
    station_ids: Sequence[int] | None,
    newest_first: bool,
) -> Select[*tuple[Any, ...]]:
    """The matching events' columns (``_EVENT_COLUMNS``), in order, not yet paged."""
    stmt: Select[*tuple[Any, ...]] = select(*_EVENT_COLUMNS)
    if start is not None:
        stmt = stmt.where(Event.time >= start)
    if end is not None:
        stmt = stmt.where(Event.time <= end)
    if updated_after is not None:
        stmt = stmt.where(Event.updated_at > updated_after)
    if event_id is not None:
        stmt = stmt.where(Event.id == event_id)
    if station_ids is not None:
        stmt = stmt.where(_first_station_id().in_(station_ids))
    if newest_first:
        return stmt.order_by(Event.time.desc(), Event.id.desc())
    return stmt.order_by(Event.time, Event.id)


def _detections(session: Session, event_ids: Sequence[int]) -> dict[int, list[DetectionRecord]]:
    """The detections of these events, earliest onset first, by event id."""
    stmt = (
        select(
            EventDetection.event_id,
            Detection.id,
            Detection.onset_time,
            Detection.created_at,
            Network.code,
            Station.code,
            Channel.location,
            Channel.code,
            Station.latitude,
            Station.longitude,
            Detection.phase,
            Detection.onset_uncertainty,
            Detection.polarity,
        )
        .join(Detection, Detection.id == EventDetection.detection_id)
        .join(Channel, Channel.id == Detection.channel_id)
        .join(Station, Station.id == Channel.station_id)
        .join(Network, Network.id == Station.network_id)
        .where(EventDetection.event_id.in_(event_ids))
        .order_by(EventDetection.event_id, Detection.onset_time, Detection.id)
    )
    by_event: dict[int, list[DetectionRecord]] = {i: [] for i in event_ids}
    for row in session.execute(stmt):
        event_id, id_, onset, created, net, sta, loc, cha, lat, lon, phase, error, motion = row
        by_event[event_id].append(
            DetectionRecord(
                id=id_,
                onset_time=onset,
                created_at=created,
                network=net,
                station=sta,
                location=loc,
                channel=cha,
                latitude=lat,
                longitude=lon,
                phase=phase,
                onset_uncertainty=error,
                polarity=motion,
            )
        )
    return by_event


def _record(row: Sequence[Any], detections: list[DetectionRecord]) -> EventRecord:
    """An event from its ``_EVENT_COLUMNS`` (in order) and its detections."""
    event_id, time, status, n_stations, created_at, updated_at = row[: len(_EVENT_COLUMNS)]
    return EventRecord(
        id=event_id,
        time=time,
        status=status,
        n_stations=n_stations,
        created_at=created_at,
        updated_at=updated_at,
        detections=tuple(detections),
    )


def search_events(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    updated_after: datetime | None = None,
    event_id: int | None = None,
    region: Region | None = None,
    newest_first: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> list[EventRecord]:
    """Events with ``start <= time <= end`` (both inclusive), updated after
    ``updated_after``, of id ``event_id``, whose first station is in ``region`` (with a
    region, events without detections never match), ordered by time then id (newest first
    unless ``newest_first`` is false); from the ``offset``-th match (0 is the first), at most
    ``limit`` of them. Each comes with its detections, earliest onset first.

    Two queries whatever the number of events, three with a region (its stations first).
    """
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError(f"need offset >= 0 and limit >= 0, got offset={offset}, limit={limit}")
    station_ids = None
    if region is not None:
        station_ids = _stations_in(session, region)
        if not station_ids:
            return []
    stmt = _matching(
        start=start,
        end=end,
        updated_after=updated_after,
        event_id=event_id,
        station_ids=station_ids,
        newest_first=newest_first,
    )
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    if not rows:
        return []
    detections = _detections(session, [row[0] for row in rows])
    return [_record(row, detections[row[0]]) for row in rows]
