"""The FDSN event service, used by ObsPy's own FDSN client against a real server on
loopback, as a researcher would."""

from __future__ import annotations

import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from obspy import UTCDateTime, read_events
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNException, FDSNNoDataException
from sqlalchemy.orm import Session

from api.app import create_app
from api.quakeml import catalog_from_events, quakeml_document
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.event_search import search_events
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import Event, EventStatus
from stations.queries import ChannelKey, channel_index, list_events, store_detection, store_event

from ..conftest import free_port

COORDINATES = {"SAREZ": (38.27, 72.6), "MURGH": (38.17, 73.96), "MANEM": (37.49, 71.55)}


@dataclass(frozen=True)
class Stored:
    time: datetime
    status: EventStatus
    onsets: list[tuple[str, float]]  # (station, seconds after the event time), first first
    updated_at: datetime


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EVENTS = [
    Stored(
        _utc("2025-06-15T10:00:00.250"),
        EventStatus.FINAL,
        [("SAREZ", 0.0), ("MURGH", 3.5)],
        _utc("2025-06-15T10:05:00"),
    ),
    Stored(
        _utc("2025-06-15T12:30:00.500"),
        EventStatus.PRELIMINARY,
        [("MANEM", 0.0), ("SAREZ", 4.2)],
        _utc("2025-06-15T12:35:00"),
    ),
    Stored(
        _utc("2025-06-16T08:00:00"),
        EventStatus.PRELIMINARY,
        [("MURGH", 0.0), ("SAREZ", 5.0), ("MANEM", 6.1)],
        _utc("2025-06-17T00:00:00"),
    ),
]


def _store(url: str) -> None:
    """Migrate, import the default inventory and store ``EVENTS`` with their detections."""
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        channels = channel_index(s)
        for stored in EVENTS:
            detection_ids = []
            for station, delay in stored.onsets:
                onset = stored.time + timedelta(seconds=delay)
                detection = store_detection(
                    s,
                    channel_id=channels[ChannelKey("TJ", station, "", "HHZ")].id,
                    on_time=onset + timedelta(seconds=0.3),
                    off_time=onset + timedelta(seconds=20),
                    onset_time=onset,
                    peak_ratio=6.0,
                    snr=12.0,
                    peak_amplitude=1500.0,
                    profile="local",
                    now=onset + timedelta(seconds=30),
                )
                detection_ids.append(detection.id)
            created = stored.time + timedelta(minutes=1)
            event = store_event(
                s,
                event_id=None,
                time=stored.time,
                status=EventStatus.PRELIMINARY,
                n_stations=len(stored.onsets),
                coincidence_sum=float(len(stored.onsets)),
                duration=20.0,
                detection_ids=detection_ids,
                now=created,
            )
            store_event(
                s,
                event_id=event.id,
                time=stored.time,
                status=stored.status,
                n_stations=len(stored.onsets),
                coincidence_sum=float(len(stored.onsets)),
                duration=20.0,
                detection_ids=detection_ids,
                now=stored.updated_at,
            )
    engine.dispose()


@contextmanager
def serving(settings: ApiSettings) -> Iterator[str]:
    """The API on a loopback port, in a thread, for as long as the block runs."""
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def database(fresh_database_url: str) -> str:
    _store(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def base_url(database: str) -> Iterator[str]:
    with serving(ApiSettings(database_url=database)) as url:
        yield url


def _times(catalog: object) -> list[UTCDateTime]:
    return [e.origins[0].time for e in catalog]  # type: ignore[attr-defined]


def test_obspy_client_gets_events_with_picks(base_url: str) -> None:
    client = Client(base_url)
    assert "event" in client.services
    assert client.services["available_event_catalogs"] == {"Larza"}
    catalog = client.get_events(orderby="time-asc")
    assert _times(catalog) == [UTCDateTime(e.time) for e in EVENTS]
    for event, stored in zip(catalog, EVENTS, strict=True):
        origin = event.preferred_origin()
        assert event.resource_id.id.startswith("smi:larza/event/")
        assert origin.resource_id.id.startswith("smi:larza/origin/")
        assert origin.evaluation_mode == "automatic"
        assert origin.evaluation_status == stored.status.value
        assert (origin.latitude, origin.longitude) == COORDINATES[stored.onsets[0][0]]
        assert origin.depth == 0.0
        assert "first station reached" in origin.comments[0].text
        picks = sorted(event.picks, key=lambda p: p.time)
        assert [p.waveform_id.get_seed_string() for p in picks] == [
            f"TJ.{station}..HHZ" for station, _delay in sorted(stored.onsets, key=lambda o: o[1])
        ]
        assert [p.time for p in picks] == [
            UTCDateTime(stored.time + timedelta(seconds=delay))
            for _station, delay in sorted(stored.onsets, key=lambda o: o[1])
        ]
        assert all(p.resource_id.id.startswith("smi:larza/pick/") for p in picks)
        assert all(p.evaluation_mode == "automatic" for p in picks)
        assert origin.arrivals == []  # FDSN's default: includearrivals=false
    with_arrivals = client.get_events(orderby="time-asc", includearrivals=True)
    for event in with_arrivals:
        origin = event.preferred_origin()
        assert sorted(a.pick_id.id for a in origin.arrivals) == sorted(
            p.resource_id.id for p in event.picks
        )
    newest_first = client.get_events()
    assert _times(newest_first) == [UTCDateTime(e.time) for e in reversed(EVENTS)]


def test_time_region_limit_and_update_filters(base_url: str) -> None:
    client = Client(base_url)
    day_one = client.get_events(
        starttime=UTCDateTime(2025, 6, 15), endtime=UTCDateTime(EVENTS[1].time)
    )
    assert _times(day_one) == [UTCDateTime(EVENTS[1].time), UTCDateTime(EVENTS[0].time)]
    east = client.get_events(minlongitude=73.0, maxlongitude=75.0)
    assert _times(east) == [UTCDateTime(EVENTS[2].time)]
    near_manem = client.get_events(latitude=37.5, longitude=71.5, maxradius=0.5)
    assert _times(near_manem) == [UTCDateTime(EVENTS[1].time)]
    assert len(client.get_events(minlatitude=38.0, mindepth=-1, maxdepth=10)) == 2
    oldest = client.get_events(orderby="time-asc", limit=1)
    assert _times(oldest) == [UTCDateTime(EVENTS[0].time)]
    second = client.get_events(orderby="time-asc", limit=1, offset=2)
    assert _times(second) == [UTCDateTime(EVENTS[1].time)]
    by_magnitude = client.get_events(orderby="magnitude-asc", limit=2)
    assert _times(by_magnitude) == [UTCDateTime(e.time) for e in EVENTS[:2]]
    updated = client.get_events(updatedafter=UTCDateTime(2025, 6, 16, 12))
    assert _times(updated) == [UTCDateTime(EVENTS[2].time)]
    one_id = updated[0].resource_id.id.rsplit("/", 1)[1]
    assert _times(client.get_events(eventid=one_id)) == [UTCDateTime(EVENTS[2].time)]
    for nothing in ({"minmagnitude": 1.0}, {"mindepth": 5.0}, {"catalog": "ISC"}):
        with pytest.raises(FDSNNoDataException):
            client.get_events(**nothing)


def test_text_format(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/fdsnws/event/1/query?format=text") as r:
        lines = r.read().decode().strip().splitlines()
    assert lines[0].startswith("#EventID|Time|Latitude|Longitude|Depth/km|Author")
    rows = [line.split("|") for line in lines[1:]]
    assert all(len(row) == 13 for row in rows)
    assert [UTCDateTime(row[1]) for row in rows] == [UTCDateTime(e.time) for e in reversed(EVENTS)]
    assert [(float(row[2]), float(row[3])) for row in rows] == [
        COORDINATES[e.onsets[0][0]] for e in reversed(EVENTS)
    ]
    assert {row[6] for row in rows} == {"Larza"}


def test_paging_and_the_page_size_limit(database: str) -> None:
    with serving(ApiSettings(database_url=database, page_size_max=2)) as url:
        client = Client(url)
        page = client.get_events(orderby="time-asc", limit=2, offset=2)
        assert _times(page) == [UTCDateTime(e.time) for e in EVENTS[1:]]
        with pytest.raises(FDSNException, match="More than 2 events match"):
            client.get_events()


def test_bad_parameters_get_the_fdsn_error_document(base_url: str) -> None:
    cases = [
        ("limit=0", "Bad value for limit"),
        ("limit=5000", "Bad value for limit"),
        ("offset=zero", "Bad value for offset"),
        ("orderby=size", "Bad value for orderby"),
        ("starttime=yesterday", "Bad value for starttime"),
        ("updatedafter=soon", "Bad value for updatedafter"),
        ("minlatitude=north", "Bad value for minlatitude"),
        ("maxradius=2", "need latitude and longitude"),
        ("latitude=38", "latitude and longitude go together"),
        ("includearrivals=maybe", "Bad value for includearrivals"),
        ("eventid=abc", "Bad value for eventid"),
        ("format=json", "Bad value for format"),
        ("colour=red", "Unsupported parameter: colour"),
    ]
    for query, needle in cases:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base_url}/fdsnws/event/1/query?{query}")
        assert info.value.code == 400, query
        body = info.value.read().decode()
        info.value.close()
        assert body.startswith("Error 400: Bad Request"), query
        assert needle in body, query


def test_nodata_404_and_version(base_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base_url}/fdsnws/event/1/query?start=2030-01-01&nodata=404")
    assert info.value.code == 404
    info.value.close()
    with urllib.request.urlopen(f"{base_url}/fdsnws/event/1/query?start=2030-01-01") as r:
        assert r.status == 204
    with urllib.request.urlopen(f"{base_url}/fdsnws/event/1/version") as r:
        assert r.read().decode() == "1.1.0"


def _obspy_quakeml(events: list[Event], arrivals: bool = True) -> bytes:
    """What the service answered before it wrote QuakeML itself: ObsPy's writer."""
    buf = io.BytesIO()
    catalog_from_events(events, "smi:larza", arrivals=arrivals).write(buf, format="QUAKEML")
    return buf.getvalue()


def _assert_same_catalog(fast: bytes, slow: bytes) -> None:
    """The same events, origins, picks and arrivals once read back by ObsPy."""
    ours, obspys = read_events(io.BytesIO(fast)), read_events(io.BytesIO(slow))
    assert [e.resource_id for e in ours] == [e.resource_id for e in obspys]
    for mine, theirs in zip(ours, obspys, strict=True):
        assert [o.time for o in mine.origins] == [o.time for o in theirs.origins]
        assert [(p.resource_id, p.time, p.waveform_id) for p in mine.picks] == [
            (p.resource_id, p.time, p.waveform_id) for p in theirs.picks
        ]
        assert [(a.pick_id, a.distance) for o in mine.origins for a in o.arrivals] == [
            (a.pick_id, a.distance) for o in theirs.origins for a in o.arrivals
        ]
        assert mine == theirs
    assert ours == obspys


@pytest.mark.parametrize("arrivals", [None, "true", "false"])
def test_the_service_answers_what_obspy_writes(
    database: str, base_url: str, arrivals: str | None
) -> None:
    query = "orderby=time-asc" + ("" if arrivals is None else f"&includearrivals={arrivals}")
    with urllib.request.urlopen(f"{base_url}/fdsnws/event/1/query?{query}") as r:
        served = r.read()
    engine = make_engine(database)
    with make_session_factory(engine)() as s:
        events = sorted(list_events(s), key=lambda e: (e.time, e.id))
        expected = _obspy_quakeml(events, arrivals=arrivals == "true")
    engine.dispose()
    assert served == expected
    _assert_same_catalog(served, expected)
    assert (b"<arrival " in served) == (arrivals == "true")


def test_quakeml_document_equals_obspys_writer(inventory: Session) -> None:
    """Events with one to five picks, equal onsets (the lower id first), a pick at another
    station than the first, and an event without detections (no origin); picks with and
    without phase, onset uncertainty and first motion."""
    channels = channel_index(inventory)
    kinds: list[tuple[str | None, float | None, str | None]] = [
        ("P", 0.03, "positive"),
        ("S", 0.125, None),
        (None, None, None),
        ("P", 1 / 3, "undecidable"),
        (None, 0.01, "negative"),
    ]
    onsets = [
        [("SAREZ", "HHZ", 0.0)],
        [("MURGH", "HHZ", 0.0), ("SAREZ", "HHN", 0.0), ("MANEM", "HNZ", 2.5)],
        [("MANEM", "HHE", 1.25), ("MURGH", "HHZ", 0.5), ("SAREZ", "HHZ", 3.0)],
        [],
        [(s, "HHZ", 0.1 * k) for k, s in enumerate(["SAREZ", "MURGH", "MANEM", "SAREZ", "MURGH"])],
    ]
    for k, picks in enumerate(onsets):
        time = datetime(2025, 7, 1, 3, k, 7, 123456 * k % 10**6, tzinfo=UTC)
        ids = [
            store_detection(
                inventory,
                channel_id=channels[ChannelKey("TJ", station, "", code)].id,
                on_time=time + timedelta(seconds=delay + 0.2),
                off_time=time + timedelta(seconds=delay + 9),
                onset_time=time + timedelta(seconds=delay),
                peak_ratio=4.0,
                snr=None,
                peak_amplitude=10.0,
                profile="local",
                now=time + timedelta(seconds=delay + 11.5),
                phase=kinds[(k + j) % len(kinds)][0],
                onset_uncertainty=kinds[(k + j) % len(kinds)][1],
                polarity=kinds[(k + j) % len(kinds)][2],
            ).id
            for j, (station, code, delay) in enumerate(picks)
        ]
        store_event(
            inventory,
            event_id=None,
            time=time,
            status=EventStatus.FINAL if k % 2 else EventStatus.PRELIMINARY,
            n_stations=len({station for station, _c, _d in picks}),
            coincidence_sum=float(len(picks)),
            duration=9.0,
            detection_ids=ids,
            now=time + timedelta(minutes=2),
        )
    records = search_events(inventory, newest_first=False)
    events = sorted(list_events(inventory), key=lambda e: (e.time, e.id))
    assert [r.id for r in records] == [e.id for e in events]
    fast = quakeml_document(records, "smi:larza")
    slow = _obspy_quakeml(events)
    assert fast == slow
    _assert_same_catalog(fast, slow)
    catalog = read_events(io.BytesIO(fast))
    assert not catalog[3].origins
    picks = [p for event in catalog for p in event.picks]
    assert {p.phase_hint for p in picks} == {"P", "S", None}
    assert {p.polarity for p in picks} == {"positive", "negative", "undecidable", None}
    assert 1 / 3 in {p.time_errors.uncertainty for p in picks}
    arrivals = {a.pick_id: a.phase for event in catalog for o in event.origins for a in o.arrivals}
    assert all(arrivals[p.resource_id] == (p.phase_hint or "P") for p in picks)
