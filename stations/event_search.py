"""Event search: the FDSN event service's filters, ordering and paging done in SQL.

A located event's place is its epicentre and depth (the latest origin's, kept on the event
row); an event without a location (a coincidence of triggers) is placed at the station of
its first detection (the earliest onset, then the lowest id, by a correlated subquery), at
depth 0. A region is turned into the stations in it and the located events in it: the box in
SQL, a radius search narrowed in SQL to the box bounding its circle and then checked exactly
with ObsPy's ``locations2degrees``. Magnitude and depth bounds are columns of the event, so
every filter, the order, ``offset`` and ``limit`` stay in SQL.

The search reads rows, not ORM objects: one query selects the page of matching events'
columns, a second reads all their detections joined to channel, station and network.
Building ORM instances for a page of events and their detections cost several times the
whole query; the records here are what the FDSN event service writes.

Limitations: without a time window, a region search evaluates the first-station subquery for
unlocated events until the page is full, and lists the ids of every located event in the
region's bounding box (checked exactly, then matched by id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obspy.geodetics import locations2degrees
from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, false, or_, select, true
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
from stations.quakes import EventQuake, event_quakes

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
    latitude: float | None = None
    longitude: float | None = None
    depth_km: float | None = None
    magnitude: float | None = None
    magnitude_uncertainty: float | None = None
    magnitude_stations: int | None = None
    energy_class: float | None = None
    quake: EventQuake | None = None
    """The latest origin, station magnitudes and ground motion (located events)."""

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

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


def _longitude_between(west: float, east: float, column: Any = Station.longitude) -> Any:
    if west <= east:
        return column.between(west, east)
    return or_(column >= west, column <= east)


def _cap_bounds(
    region: Region, lat: Any = Station.latitude, lon: Any = Station.longitude
) -> list[ColumnElement[bool]]:
    """Conditions bounding the circle of ``region.radii[1]`` around ``region.centre``."""
    if region.centre is None or region.radii[1] >= 180.0:
        return []
    latitude, longitude = region.centre
    radius = region.radii[1] + _MARGIN
    bounds: list[ColumnElement[bool]] = [lat.between(latitude - radius, latitude + radius)]
    if abs(latitude) + radius < 90.0:
        ratio = math.sin(math.radians(radius)) / math.cos(math.radians(latitude))
        spread = math.degrees(math.asin(min(1.0, ratio))) + _MARGIN
        if spread < 180.0:
            west, east = longitude - spread, longitude + spread
            west = west + 360.0 if west < -180.0 else west
            east = east - 360.0 if east > 180.0 else east
            bounds.append(_longitude_between(west, east, lon))
    return bounds


_EVENT_COLUMNS = (
    Event.id,
    Event.time,
    Event.status,
    Event.n_stations,
    Event.created_at,
    Event.updated_at,
    Event.latitude,
    Event.longitude,
    Event.depth_km,
    Event.magnitude,
    Event.magnitude_uncertainty,
    Event.magnitude_stations,
    Event.energy_class,
)


def _stations_in(session: Session, region: Region) -> list[int]:
    """The ids of the stations in ``region``."""
    stmt = select(Station.id, Station.latitude, Station.longitude).where(
        Station.latitude.between(*region.latitudes),
        _longitude_between(*region.longitudes),
        *_cap_bounds(region),
    )
    return [i for i, lat, lon in session.execute(stmt) if region.distance_matches(lat, lon)]


def _located_in(
    session: Session, region: Region, start: datetime | None, end: datetime | None
) -> list[int]:
    """The ids of the located events whose epicentre is in ``region``."""
    stmt = select(Event.id, Event.latitude, Event.longitude).where(
        Event.latitude.is_not(None),
        Event.latitude.between(*region.latitudes),
        _longitude_between(*region.longitudes, Event.longitude),
        *_cap_bounds(region, Event.latitude, Event.longitude),
    )
    if start is not None:
        stmt = stmt.where(Event.time >= start)
    if end is not None:
        stmt = stmt.where(Event.time <= end)
    return [
        i
        for i, lat, lon in session.execute(stmt)
        if lat is not None and lon is not None and region.distance_matches(lat, lon)
    ]


def _matching(
    *,
    start: datetime | None,
    end: datetime | None,
    updated_after: datetime | None,
    event_id: int | None,
    station_ids: Sequence[int] | None,
    located_ids: Sequence[int] | None,
    newest_first: bool,
    magnitudes: tuple[float, float] | None = None,
    depths: tuple[float, float] | None = None,
    by_magnitude: bool = False,
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
    if station_ids is not None and located_ids is not None:
        stmt = stmt.where(
            or_(
                Event.id.in_(located_ids) if located_ids else false(),
                and_(Event.latitude.is_(None), _first_station_id().in_(station_ids))
                if station_ids
                else false(),
            )
        )
    if magnitudes is not None:
        stmt = stmt.where(Event.magnitude.between(*magnitudes))
    if depths is not None:
        unlocated = true() if depths[0] <= 0.0 <= depths[1] else false()
        stmt = stmt.where(
            or_(Event.depth_km.between(*depths), and_(Event.depth_km.is_(None), unlocated))
        )
    order: list[Any] = []
    if by_magnitude:
        magnitude = Event.magnitude.desc() if newest_first else Event.magnitude.asc()
        order.append(magnitude.nulls_last())
    if newest_first:
        return stmt.order_by(*order, Event.time.desc(), Event.id.desc())
    return stmt.order_by(*order, Event.time, Event.id)


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


def _record(
    row: Sequence[Any], detections: list[DetectionRecord], quake: EventQuake | None
) -> EventRecord:
    """An event from its ``_EVENT_COLUMNS`` (in order), its detections and earthquake."""
    (event_id, time, status, n_stations, created_at, updated_at, lat, lon, depth, mag,
     mag_error, mag_count, k) = row[: len(_EVENT_COLUMNS)]  # fmt: skip
    return EventRecord(
        id=event_id,
        time=time,
        status=status,
        n_stations=n_stations,
        created_at=created_at,
        updated_at=updated_at,
        detections=tuple(detections),
        latitude=lat,
        longitude=lon,
        depth_km=depth,
        magnitude=mag,
        magnitude_uncertainty=mag_error,
        magnitude_stations=mag_count,
        energy_class=k,
        quake=quake if quake is not None and quake.origin is not None else None,
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
    magnitudes: tuple[float, float] | None = None,
    depths: tuple[float, float] | None = None,
    by_magnitude: bool = False,
) -> list[EventRecord]:
    """Events with ``start <= time <= end`` (both inclusive), updated after
    ``updated_after``, of id ``event_id``, placed in ``region`` (with a region, events
    without detections or location never match), with a magnitude within ``magnitudes`` and
    a depth within ``depths`` (an unlocated event's is 0), ordered by time then id (newest
    first unless ``newest_first`` is false; by magnitude first with ``by_magnitude``, events
    without one last); from the ``offset``-th match (0 is the first), at most ``limit`` of
    them. Each comes with its detections, earliest onset first, and its latest origin.

    A handful of queries whatever the number of events.
    """
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError(f"need offset >= 0 and limit >= 0, got offset={offset}, limit={limit}")
    station_ids = located_ids = None
    if region is not None:
        station_ids = _stations_in(session, region)
        located_ids = _located_in(session, region, start, end)
        if not station_ids and not located_ids:
            return []
    stmt = _matching(
        start=start,
        end=end,
        updated_after=updated_after,
        event_id=event_id,
        station_ids=station_ids,
        located_ids=located_ids,
        newest_first=newest_first,
        magnitudes=magnitudes,
        depths=depths,
        by_magnitude=by_magnitude,
    )
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    detections = _detections(session, ids)
    located = [row[0] for row in rows if row[6] is not None]
    quakes = event_quakes(session, event_ids=located) if located else {}
    return [_record(row, detections[row[0]], quakes.get(row[0])) for row in rows]
