"""Located earthquakes as the user sees them: REST events with origin, magnitude, phases and
ground motion; the CSV catalogue; QuakeML 1.2 that ObsPy validates against the schema; the
FDSN event service's magnitude, place and depth filters, ``orderby=magnitude`` and
``includearrivals``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from obspy import read_events
from obspy.io.quakeml.core import _validate as validate_quakeml
from sqlalchemy.orm import Session

from api.quakeml import catalog_from_events, quakeml_document
from api.routers.stream import read_batch
from stations.changes import log_changes
from stations.event_search import search_events
from stations.models import ChangeKind, EventStatus, LocationStatus
from stations.quakes import (
    NewArrival,
    NewMagnitude,
    NewMotion,
    NewOrigin,
    event_quakes,
    store_magnitudes,
    store_motions,
    store_origin,
)
from stations.queries import ChannelKey, channel_index, list_events, store_detection, store_event

T = datetime(2025, 7, 1, 3, 0, 0, tzinfo=UTC)
# name: (minutes after T, latitude, longitude, depth km, ML or None)
QUAKES = {
    "deep near Murghob": (0, 38.40, 74.30, 110.0, 3.8),
    "shallow near Sarez": (10, 38.20, 72.70, 12.0, 2.1),
    "small near Manem": (20, 37.45, 71.40, 30.0, None),
}


def store_quakes(session: Session, at: datetime = T) -> dict[str, int]:
    """The three located quakes of ``QUAKES``, ``at`` + their minutes (the dashboard's test
    stores them as the worker would)."""
    channels = channel_index(session)
    ids: dict[str, int] = {}
    for name, (minutes, lat, lon, depth, ml) in QUAKES.items():
        time = at + timedelta(minutes=minutes)
        picks = []
        for k, (station, code, phase) in enumerate(
            [("SAREZ", "HHZ", "P"), ("MURGH", "HHZ", "P"), ("MANEM", "HHZ", "P"),
             ("SAREZ", "HHN", "S")]
        ):  # fmt: skip
            onset = time + timedelta(seconds=10 + 3 * k)
            picks.append(
                store_detection(
                    session,
                    channel_id=channels[ChannelKey("TJ", station, "", code)].id,
                    on_time=onset,
                    off_time=onset + timedelta(seconds=5),
                    onset_time=onset,
                    peak_ratio=5.0,
                    snr=20.0,
                    peak_amplitude=1000.0,
                    profile="default",
                    now=onset + timedelta(seconds=6),
                    phase=phase,
                    onset_uncertainty=0.05,
                    polarity="positive" if phase == "P" else None,
                ).id
            )
        event = store_event(
            session,
            event_id=None,
            time=time,
            status=EventStatus.FINAL,
            n_stations=3,
            coincidence_sum=3.0,
            duration=9.0,
            detection_ids=picks,
            now=time + timedelta(minutes=2),
        )
        for version in (1, 2):
            store_origin(
                session,
                event=event,
                origin=NewOrigin(
                    status=LocationStatus.FREE,
                    reason="",
                    time=time,
                    latitude=lat,
                    longitude=lon,
                    depth_km=depth,
                    rms=0.12 / version,
                    n_phases=4,
                    n_stations=3,
                    azimuthal_gap=140.0,
                    min_distance_km=20.0,
                    max_distance_km=180.0,
                    time_error_s=0.3,
                    latitude_error_km=2.0,
                    longitude_error_km=3.0,
                    depth_error_km=5.0,
                    semi_major_km=3.5,
                    semi_minor_km=1.8,
                    ellipse_azimuth=60.0,
                    quality="B",
                    arrivals=tuple(
                        NewArrival(d, "S" if i == 3 else "P", 0.1 * i - 0.1, 1.0, 50.0 + i, 90.0)
                        for i, d in enumerate(picks)
                    ),
                ),
                now=time + timedelta(minutes=1 + version),
            )
        if ml is not None:
            station_ids = {k.station: c.station_id for k, c in channels.items()}
            store_magnitudes(
                session,
                event=event,
                magnitude=ml,
                uncertainty=0.15,
                count=3,
                energy_class=1.8 * ml + 4.6,
                stations=[
                    NewMagnitude(
                        station_ids[s], ("HHE", "HHN"), (1.5, 2.0), 120.0, ml + d, 0.0, True
                    )
                    for s, d in (("SAREZ", -0.1), ("MURGH", 0.0), ("MANEM", 0.1))
                ],
            )
            store_motions(
                session,
                event=event,
                motions=[
                    NewMotion(station_ids["SAREZ"], ("HNE", "HNN", "HNZ"), 115.0, 4.9, 0.3,
                              (1.2, 0.4, 0.05), 3.4)
                ],
            )  # fmt: skip
        ids[name] = event.id
    return ids


@pytest.fixture
def quakes(inventory: Session) -> dict[str, int]:
    return store_quakes(inventory)


def test_rest_events_carry_origin_magnitude_phases_and_ground_motion(
    client: TestClient, quakes: dict[str, int]
) -> None:
    got = client.get(f"/api/v1/events/{quakes['deep near Murghob']}").json()
    assert got["magnitude"] == pytest.approx(3.8)
    assert got["magnitude_type"] == "ML"
    assert got["magnitude_stations"] == 3
    assert got["energy_class"] == pytest.approx(1.8 * 3.8 + 4.6)
    assert got["depth_km"] == pytest.approx(110.0)
    assert got["place"] == "39 km NE of Murghob"  # 38.40°N 74.30°E, from Murghob 38.17°N 73.96°E
    assert got["place"].split(" km ")[1].split()[0] in {"N", "NE", "E", "SE", "S", "SW", "W", "NW"}
    assert got["origin_versions"] == 2
    origin = got["origin"]
    assert origin["version"] == 2
    assert origin["rms"] == pytest.approx(0.06)
    assert origin["quality"] == "B"
    assert origin["semi_major_km"] == pytest.approx(3.5)
    assert [a["phase"] for a in origin["arrivals"]] == ["P", "P", "P", "S"]
    assert origin["arrivals"][3]["stream"] == "TJ.SAREZ..HHN"
    assert origin["arrivals"][2]["residual"] == pytest.approx(0.1)
    assert [m["station"] for m in got["station_magnitudes"]] == ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"]
    (motion,) = got["ground_motion"]
    assert motion["pga_g_pct"] == pytest.approx(100 * 4.9 / 980.665)
    assert motion["intensity"] == pytest.approx(3.4)
    small = client.get(f"/api/v1/events/{quakes['small near Manem']}").json()
    assert small["magnitude"] is None
    assert small["station_magnitudes"] == []
    assert small["origin"]["latitude"] == pytest.approx(37.45)


def test_the_csv_catalogue_has_the_usual_columns(
    client: TestClient, quakes: dict[str, int]
) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/events?format=csv").text)))
    assert list(rows[0])[:6] == ["id", "time", "latitude", "longitude", "depth_km", "magnitude"]
    by_id = {int(r["id"]): r for r in rows}
    deep = by_id[quakes["deep near Murghob"]]
    assert float(deep["latitude"]) == pytest.approx(38.40)
    assert float(deep["depth_km"]) == pytest.approx(110.0)
    assert float(deep["magnitude"]) == pytest.approx(3.8)
    assert float(deep["horizontal_error_km"]) == pytest.approx((2.0**2 + 3.0**2) ** 0.5, abs=1e-3)
    assert deep["quality"] == "B"
    assert by_id[quakes["small near Manem"]]["magnitude"] == ""


def test_quakeml_of_located_events_is_valid_and_complete(
    client: TestClient, quakes: dict[str, int]
) -> None:
    body = client.get("/api/v1/events?format=quakeml").content
    assert validate_quakeml(io.BytesIO(body))
    catalog = read_events(io.BytesIO(body))
    deep = next(
        e for e in catalog if str(e.resource_id).endswith(f"/{quakes['deep near Murghob']}")
    )
    origin = deep.preferred_origin()
    assert origin.depth == pytest.approx(110_000.0)
    assert origin.depth_errors.uncertainty == pytest.approx(5000.0)
    assert origin.origin_uncertainty.max_horizontal_uncertainty == pytest.approx(3500.0)
    assert origin.quality.used_phase_count == 4
    assert [a.phase for a in origin.arrivals] == ["P", "P", "P", "S"]
    assert origin.arrivals[2].time_residual == pytest.approx(0.1)
    assert origin.arrivals[0].time_weight == pytest.approx(1.0)
    assert {p.phase_hint for p in deep.picks} == {"P", "S"}
    magnitude = deep.preferred_magnitude()
    assert magnitude.mag == pytest.approx(3.8)
    assert magnitude.magnitude_type == "ML"
    assert magnitude.mag_errors.uncertainty == pytest.approx(0.15)
    assert magnitude.station_count == 3
    assert len(deep.station_magnitudes) == 3
    assert len(deep.amplitudes) == 3
    assert deep.amplitudes[0].generic_amplitude == pytest.approx(0.002)
    assert len(magnitude.station_magnitude_contributions) == 3


def test_the_fdsn_writer_equals_obspys_for_located_events(
    inventory: Session, quakes: dict[str, int]
) -> None:
    records = search_events(inventory, newest_first=False)
    events = sorted(list_events(inventory), key=lambda e: (e.time, e.id))
    found = event_quakes(inventory, event_ids=[e.id for e in events])
    slow = io.BytesIO()
    catalog_from_events(events, "smi:larza", found).write(slow, format="QUAKEML")
    assert quakeml_document(records, "smi:larza") == slow.getvalue()


def _fdsn(client: TestClient, **params: str) -> list[str]:
    """Event ids (as the text format gives them, in order) of an FDSN query."""
    response = client.get("/fdsnws/event/1/query", params={"format": "text", **params})
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return [line.split("|")[0] for line in response.text.splitlines()[1:]]


def test_fdsn_filters_on_magnitude_place_and_depth(
    client: TestClient, quakes: dict[str, int]
) -> None:
    deep, shallow, small = (str(quakes[k]) for k in QUAKES)
    assert _fdsn(client, minmagnitude="3") == [deep]
    assert _fdsn(client, maxmagnitude="3") == [shallow]
    assert _fdsn(client, minmag="1", orderby="magnitude") == [deep, shallow]
    assert _fdsn(client, orderby="magnitude-asc") == [shallow, deep, small]
    assert _fdsn(client, mindepth="100") == [deep]
    assert _fdsn(client, maxdepth="50", orderby="time-asc") == [shallow, small]
    assert _fdsn(client, minlatitude="38.3", minlongitude="74") == [deep]
    # the Usoi dam (38.27 N, 72.60 E): only the shallow quake is within 0.2 degrees
    assert _fdsn(client, latitude="38.27", longitude="72.60", maxradius="0.2") == [shallow]
    line = client.get(
        "/fdsnws/event/1/query", params={"format": "text", "eventid": deep}
    ).text.splitlines()[1]
    fields = line.split("|")
    assert fields[2:5] == ["38.4000", "74.3000", "110.0"]
    assert fields[9:12] == ["ML", "3.8", "Larza"]


def test_fdsn_includearrivals(client: TestClient, quakes: dict[str, int]) -> None:
    """Arrivals when asked (``includearrivals=true``), none by default, as FDSN specifies;
    the picks either way."""
    deep = str(quakes["deep near Murghob"])
    url = "/fdsnws/event/1/query"
    with_arrivals = client.get(url, params={"eventid": deep, "includearrivals": "true"}).content
    assert len(read_events(io.BytesIO(with_arrivals))[0].origins[0].arrivals) == 4
    for params in ({"eventid": deep}, {"eventid": deep, "includearrivals": "false"}):
        (event,) = read_events(io.BytesIO(client.get(url, params=params).content))
        assert event.origins[0].arrivals == []
        assert len(event.picks) == 4


def test_detections_say_their_event_and_arrival(client: TestClient, quakes: dict[str, int]) -> None:
    items = client.get("/api/v1/detections?limit=100").json()["items"]
    assert len(items) == 12
    assert {d["event_id"] for d in items} == set(quakes.values())
    s_picks = [d for d in items if d["channel"] == "HHN"]
    assert len(s_picks) == 3
    for d in s_picks:
        assert d["arrival"]["phase"] == "S"
        assert d["arrival"]["residual"] == pytest.approx(0.2)
        assert d["arrival"]["stream"] == "TJ.SAREZ..HHN"


def test_the_event_stream_carries_origin_and_magnitude(
    inventory: Session, quakes: dict[str, int]
) -> None:
    deep = quakes["deep near Murghob"]
    log_changes(inventory, changes=[(ChangeKind.EVENT, deep)], now=T + timedelta(hours=1))
    batch, _full = read_batch(inventory, 0, {ChangeKind.EVENT})
    (message,) = [m for m in batch.messages if f'"id":{deep},' in m.text]
    data = json.loads(message.text.split("data: ", 1)[1])
    assert data["magnitude"] == pytest.approx(3.8)
    assert data["origin"]["depth_km"] == pytest.approx(110.0)
    assert len(data["origin"]["arrivals"]) == 4
    assert len(data["station_magnitudes"]) == 3
    assert len(data["ground_motion"]) == 1
