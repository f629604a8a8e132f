"""Requests a hostile or careless client sends: NUL bytes, numbers past any column, CSV
cells a spreadsheet would run, static files behind a key, an inverted time window."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings
from stations.apikeys import create_api_key
from stations.health import save_station_state
from stations.inventory import default_inventory_path, import_stationxml_bytes
from stations.models import EventStatus, HealthState
from stations.queries import ChannelKey, channel_index, get_station, store_detection, store_event

NOW = datetime.now(UTC).replace(microsecond=0)


def _client(engine: Engine, session: Session, **settings: object) -> Iterator[TestClient]:
    app = create_app(ApiSettings(database_url="sqlite://", **settings), engine=engine)  # type: ignore[arg-type]
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as client:
        # keys are checked in sessions of their own: on the test's connection here
        app.state.session_factory = sessionmaker(
            bind=session.connection(), join_transaction_mode="create_savepoint"
        )
        yield client


@pytest.fixture
def key(inventory: Session) -> dict[str, str]:
    return {"X-API-Key": create_api_key(inventory, name="operator", now=NOW)[1]}


@pytest.fixture
def api(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    yield from _client(engine, inventory)


@pytest.fixture
def closed_api(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    yield from _client(engine, inventory, read_requires_key=True)


def test_nul_bytes_in_json_text_are_refused(
    api: TestClient, inventory: Session, key: dict[str, str]
) -> None:
    station = get_station(inventory, network="TJ", station="SAREZ")
    save_station_state(
        inventory, station_id=station.id, state=HealthState.DOWN, reason="drill", now=NOW
    )
    sarez = "/api/v1/stations/TJ.SAREZ"
    for method, path, body in [
        ("POST", f"{sarez}/acknowledgements", {"comment": "on it\u0000"}),
        ("PATCH", sarez, {"maintenance": True, "note": "battery\u0000swap"}),
        ("PATCH", sarez, {"note": "\u0000"}),
        ("POST", "/api/v1/webhooks", {"url": "https://example.org/", "secret": "s" * 20 + "\0"}),
    ]:
        answer = api.request(method, path, json=body, headers=key)
        assert answer.status_code == 422, (path, body, answer.text)
        assert "NUL" in answer.text
    url = api.post("/api/v1/webhooks", json={"url": "https://example.org/\u0000"}, headers=key)
    assert url.status_code == 400
    # Other control characters are refused too; line breaks in a comment are kept.
    tab = api.post(f"{sarez}/acknowledgements", json={"comment": "bell\u0007"}, headers=key)
    assert tab.status_code == 422
    ok = api.post(f"{sarez}/acknowledgements", json={"comment": "on it\nFiruz"}, headers=key)
    assert ok.status_code == 201, ok.text
    assert ok.json()["comment"] == "on it\nFiruz"


@pytest.mark.parametrize(
    "query",
    [
        "min_stations=100000000000000000000000",
        "min_stations=2147483648",
        "limit=100000000000000000000000",
        "after=-1",
    ],
)
def test_numbers_past_any_column_are_422(api: TestClient, query: str) -> None:
    assert api.get(f"/api/v1/events?{query}").status_code == 422


def test_a_large_but_possible_count_matches_nothing(api: TestClient) -> None:
    answer = api.get("/api/v1/events?min_stations=2147483647")
    assert answer.status_code == 200
    assert answer.json()["items"] == []


def test_csv_cells_are_never_formulas(api: TestClient, inventory: Session) -> None:
    """A unit from an imported StationXML and a profile name start as formulas would."""
    text = default_inventory_path().read_text().replace('code="TJ"', 'code="XF"')
    text = text.replace("<Name>M/S</Name>", "<Name>=1+2</Name>", 1)
    import_stationxml_bytes(inventory, text.encode(), name="formula.xml")
    channel = channel_index(inventory)[ChannelKey("XF", "SAREZ", "", "HHZ")]
    ids = [
        store_detection(
            inventory,
            channel_id=channel.id,
            on_time=NOW - timedelta(minutes=5),
            off_time=NOW - timedelta(minutes=4),
            onset_time=NOW - timedelta(minutes=5),
            peak_ratio=6.0,
            snr=8.0,
            peak_amplitude=-1200.0,
            profile=profile,
            now=NOW,
        ).id
        for profile in ("@SUM(A1:A9)", "+cmd|' /C calc'!A0", "-2+3", "default")
    ]
    store_event(
        inventory,
        event_id=None,
        time=NOW - timedelta(minutes=5),
        status=EventStatus.FINAL,
        n_stations=1,
        coincidence_sum=1.0,
        duration=60.0,
        detection_ids=ids,
        now=NOW,
    )
    answer = api.get("/api/v1/detections?format=csv&network=XF")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["profile"] for r in rows] == [
        "'@SUM(A1:A9)",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "default",
    ]
    assert {r["physical_unit"] for r in rows} == {"'=1+2"}
    assert {r["peak_amplitude"] for r in rows} == {"-1200.0"}  # numbers stay numbers
    for line in answer.text.splitlines()[1:]:
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    events = api.get("/api/v1/events?format=csv")
    assert events.status_code == 200
    for line in events.text.splitlines()[1:]:
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "@")), cell


def test_static_files_need_a_key_when_reads_do(closed_api: TestClient, inventory: Session) -> None:
    _, secret = create_api_key(inventory, name="screen in the control room", now=NOW)
    for path in ("/static/app.js", "/static/style.css", "/static/outline.json", "/"):
        assert closed_api.get(path).status_code == 401, path
        assert closed_api.get(path, headers={"X-API-Key": "larza_wrong"}).status_code == 403
        answer = closed_api.get(path, headers={"X-API-Key": secret})
        assert answer.status_code == 200, path
    assert closed_api.get("/static/../app.py", headers={"X-API-Key": secret}).status_code == 404
    assert closed_api.get("/healthz").status_code == 200


def test_static_files_are_open_when_reads_are(api: TestClient) -> None:
    assert api.get("/static/app.js").status_code == 200
    assert api.get("/static/nothing.js").status_code == 404


def test_the_station_service_refuses_an_inverted_window(api: TestClient) -> None:
    answer = api.get("/fdsnws/station/1/query?starttime=2025-01-02&endtime=2025-01-01")
    assert answer.status_code == 400
    assert answer.text.startswith("Error 400: ")
    assert "starttime must not be after endtime" in answer.text
    for query in (
        "minlatitude=40&maxlatitude=30",
        "latitude=38&longitude=72&minradius=5&maxradius=1",
    ):
        refused = api.get(f"/fdsnws/station/1/query?{query}")
        assert refused.status_code == 400, query
    assert api.get(
        "/fdsnws/station/1/query?starttime=2025-01-01&endtime=2025-01-01"
    ).status_code in (
        200,
        204,
    )
