"""Event search in SQL against an oracle: the same filters applied in Python to every event."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from obspy.geodetics import locations2degrees
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from stations.event_search import Region, search_events
from stations.models import Event, EventStatus, Station
from stations.queries import ChannelKey, channel_index, list_events, store_detection, store_event

T0 = datetime(2025, 6, 15, tzinfo=UTC)

# Where the three stations of the default inventory are moved to reach the edge cases: both
# sides of the antimeridian and next to the North Pole. "as imported" keeps them in Tajikistan.
LAYOUTS: dict[str, dict[str, tuple[float, float]]] = {
    "as imported": {},
    "world": {"MANEM": (0.0, 179.95), "MURGH": (0.5, -179.9), "SAREZ": (89.5, 20.0)},
}


@dataclass(frozen=True)
class Query:
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    event_id: int | None = None
    region: Region | None = None
    newest_first: bool = True
    offset: int = 0
    limit: int | None = None


def _store(session: Session, layout: dict[str, tuple[float, float]]) -> list[int]:
    """Sixty events of zero to four detections (some with equal onsets), times over three
    days; returns their ids."""
    for code, (latitude, longitude) in layout.items():
        session.execute(
            update(Station)
            .where(Station.code == code)
            .values(latitude=latitude, longitude=longitude)
        )
    channels = [c.id for key, c in sorted(channel_index(session).items(), key=lambda i: str(i[0]))]
    rng = random.Random(20250615)
    ids = []
    for k in range(60):
        time = T0 + timedelta(seconds=rng.randrange(3 * 86400), microseconds=rng.randrange(10**6))
        if k % 10 == 3:
            time = T0 + timedelta(hours=30)  # equal times: the id decides the order
        detections = []
        for _ in range(rng.choice([0, 1, 2, 3, 3, 4]) if k % 7 else 0):
            onset = time + timedelta(seconds=rng.choice([0.0, 0.0, 1.5, 3.0, 4.25]))
            detection = store_detection(
                session,
                channel_id=rng.choice(channels),
                on_time=onset + timedelta(seconds=0.3),
                off_time=onset + timedelta(seconds=10),
                onset_time=onset,
                peak_ratio=5.0,
                snr=10.0,
                peak_amplitude=100.0,
                profile="local",
                now=onset + timedelta(seconds=20),
            )
            detections.append(detection.id)
        stored = store_event(
            session,
            event_id=None,
            time=time,
            status=rng.choice(list(EventStatus)),
            n_stations=len(detections),
            coincidence_sum=float(len(detections)),
            duration=10.0,
            detection_ids=detections,
            now=time + timedelta(minutes=rng.randrange(1, 3000)),
        )
        ids.append(stored.id)
    return ids


@pytest.fixture(params=list(LAYOUTS))
def stored(request: pytest.FixtureRequest, inventory: Session) -> tuple[Session, list[Event]]:
    _store(inventory, LAYOUTS[request.param])
    return inventory, list(list_events(inventory, limit=1000))


def _first_station(e: Event) -> Station | None:
    first = min(e.detections, key=lambda d: (d.onset_time, d.id), default=None)
    return None if first is None else first.channel.station


def _in_region(e: Event, region: Region) -> bool:
    station = _first_station(e)
    if station is None:
        return False
    lat, lon = station.latitude, station.longitude
    west, east = region.longitudes
    if not region.latitudes[0] <= lat <= region.latitudes[1]:
        return False
    if not (west <= lon <= east if west <= east else (lon >= west or lon <= east)):
        return False
    if region.centre is None:
        return True
    distance = locations2degrees(region.centre[0], region.centre[1], lat, lon)
    return bool(region.radii[0] <= distance <= region.radii[1])


def _oracle(events: list[Event], q: Query) -> list[int]:
    def matches(e: Event) -> bool:
        return (
            (q.start is None or e.time >= q.start)
            and (q.end is None or e.time <= q.end)
            and (q.updated_after is None or e.updated_at > q.updated_after)
            and (q.event_id is None or e.id == q.event_id)
            and (q.region is None or _in_region(e, q.region))
        )

    ordered = sorted(filter(matches, events), key=lambda e: (e.time, e.id), reverse=q.newest_first)
    end = None if q.limit is None else q.offset + q.limit
    return [e.id for e in ordered[q.offset : end]]


REGIONS = [
    Region(),
    Region(latitudes=(38.0, 90.0)),
    Region(longitudes=(72.0, 75.0)),
    Region(longitudes=(170.0, -170.0)),  # across the antimeridian
    Region(longitudes=(-179.95, 179.9)),
    Region(latitudes=(-1.0, 1.0), longitudes=(179.0, 180.0)),
    Region(centre=(38.2, 72.6), radii=(0.0, 0.5)),
    Region(centre=(38.2, 72.6), radii=(0.5, 180.0)),
    Region(centre=(0.0, 180.0), radii=(0.0, 0.2)),  # a circle across the antimeridian
    Region(centre=(0.2, -179.5), radii=(0.0, 0.7)),
    Region(centre=(89.0, -160.0), radii=(0.0, 2.0)),  # a circle around the pole
    Region(centre=(-30.0, 0.0), radii=(60.0, 120.0)),
    Region(centre=(0.0, 0.0), radii=(0.0, 180.0)),
    Region(latitudes=(0.0, 45.0), centre=(20.0, 100.0), radii=(0.0, 90.0)),
]


@pytest.mark.parametrize("region", [None, *REGIONS])
@pytest.mark.parametrize("newest_first", [True, False])
def test_regions_and_order_match_the_oracle(
    stored: tuple[Session, list[Event]], region: Region | None, newest_first: bool
) -> None:
    session, events = stored
    q = Query(region=region, newest_first=newest_first)
    assert [e.id for e in search_events(session, **vars(q))] == _oracle(events, q)


def test_times_updates_ids_and_paging_match_the_oracle(
    stored: tuple[Session, list[Event]],
) -> None:
    session, events = stored
    by_time = sorted(events, key=lambda e: e.time)
    rng = random.Random(7)
    queries = [
        Query(start=by_time[10].time, end=by_time[40].time),  # both ends inclusive
        Query(start=by_time[10].time + timedelta(microseconds=1)),
        Query(end=T0 + timedelta(hours=30)),
        Query(updated_after=by_time[20].updated_at),
        Query(event_id=events[5].id),
        Query(event_id=events[5].id, offset=1),
        Query(event_id=10**9),
        Query(limit=7),
        Query(offset=55, limit=10),
        Query(offset=100),
        Query(limit=0),
    ]
    for _ in range(40):
        queries.append(
            Query(
                start=rng.choice([None, *(e.time for e in by_time)]),
                end=rng.choice([None, *(e.time for e in by_time)]),
                updated_after=rng.choice([None, *(e.updated_at for e in by_time[:10])]),
                region=rng.choice([None, *REGIONS]),
                newest_first=rng.random() < 0.5,
                offset=rng.choice([0, 0, 1, 3, 20]),
                limit=rng.choice([None, 1, 2, 5, 50]),
            )
        )
    for q in queries:
        assert [e.id for e in search_events(session, **vars(q))] == _oracle(events, q), q


def test_records_carry_the_detections_earliest_onset_first(
    stored: tuple[Session, list[Event]],
) -> None:
    session, events = stored
    by_id = {e.id: e for e in events}
    found = search_events(session, newest_first=False)
    assert [e.id for e in found] == sorted(by_id, key=lambda i: (by_id[i].time, i))
    for record in found:
        event = by_id[record.id]
        assert (record.time, record.status, record.n_stations) == (
            event.time,
            event.status,
            event.n_stations,
        )
        assert (record.created_at, record.updated_at) == (event.created_at, event.updated_at)
        detections = sorted(event.detections, key=lambda d: (d.onset_time, d.id))
        assert [d.id for d in record.detections] == [d.id for d in detections]
        for r, d in zip(record.detections, detections, strict=True):
            station = d.channel.station
            assert (r.onset_time, r.created_at) == (d.onset_time, d.created_at)
            key = ChannelKey(r.network, r.station, r.location, r.channel)
            assert key == ChannelKey(station.network.code, station.code, "", d.channel.code)
            assert (r.latitude, r.longitude) == (station.latitude, station.longitude)
        assert record.first == (record.detections[0] if record.detections else None)


def test_a_station_on_the_circle_is_inside(inventory: Session) -> None:
    """The SQL box around a circle never cuts off a station that ``locations2degrees`` puts
    exactly on it: anywhere, across the antimeridian, by the poles."""
    _store(inventory, {})
    rng = random.Random(3)
    edges = [(89.9, 10.0), (-89.9, -170.0), (0.0, 180.0), (10.0, -180.0), (45.0, 179.99)]
    for k in range(150):
        centre = edges[k] if k < len(edges) else (rng.uniform(-90, 90), rng.uniform(-180, 180))
        point = (
            (centre[0] + rng.uniform(-3, 3), centre[1] + rng.uniform(-3, 3))
            if k % 2
            else (rng.uniform(-90, 90), rng.uniform(-180, 180))
        )
        point = (max(-90.0, min(90.0, point[0])), (point[1] + 180.0) % 360.0 - 180.0)
        inventory.execute(
            update(Station).values(latitude=point[0], longitude=point[1])
        )  # every station there
        radius = float(locations2degrees(centre[0], centre[1], point[0], point[1]))
        on_circle = Region(centre=centre, radii=(0.0, radius))
        found = search_events(inventory, region=on_circle, limit=1)
        assert found, (centre, point, radius)
        outside = Region(centre=centre, radii=(0.0, radius * (1 - 1e-9) - 1e-12))
        assert not search_events(inventory, region=outside, limit=1), (centre, point, radius)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize(
    ("region", "queries"),
    # a region: its stations, its located events, the page, the detections
    [(None, 2), (Region(latitudes=(-90.0, 90.0)), 4), (Region(centre=(38.0, 72.0)), 4)],
)
def test_a_fixed_number_of_queries(
    stored: tuple[Session, list[Event]],
    statements: list[str],
    region: Region | None,
    queries: int,
) -> None:
    session, _events = stored
    session.flush()
    statements.clear()
    assert len(search_events(session, region=region)) > 10
    assert len(statements) == queries, statements


def test_bad_paging_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="offset=-1"):
        search_events(session, offset=-1)
