"""What operators write through the API with a key: acknowledgements of a station's state,
maintenance with a note, and StationXML imports."""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from obspy import Inventory
from obspy.core.inventory import Channel as ObspyChannel
from obspy.core.inventory import Network as ObspyNetwork
from obspy.core.inventory import Site
from obspy.core.inventory import Station as ObspyStation
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import get_session
from api.routers.stations import STATIONXML_MAX_BYTES
from api.settings import ApiSettings
from stations.apikeys import create_api_key, revoke_api_key
from stations.db import make_engine, make_session_factory
from stations.health import save_station_state
from stations.inventory import default_inventory_path
from stations.models import HealthState, InventoryDocument, Network, Station
from stations.queries import get_station

from .test_stream import Serving, prepared, serving

NOW = datetime.now(UTC).replace(microsecond=0)
SAREZ = "/api/v1/stations/TJ.SAREZ"
XML = {"Content-Type": "application/xml"}


@dataclass(frozen=True)
class Keys:
    night: str
    day: str
    revoked: str


@pytest.fixture
def keys(inventory: Session) -> Keys:
    _, night = create_api_key(inventory, name="night shift", now=NOW)
    _, day = create_api_key(inventory, name="day shift", now=NOW)
    old, revoked = create_api_key(inventory, name="old laptop", now=NOW)
    revoke_api_key(inventory, key_id=old.id, now=NOW)
    return Keys(night, day, revoked)


@pytest.fixture
def api(engine: Engine, inventory: Session) -> Iterator[TestClient]:
    """The API over the test's own (rolled-back) session, with the default inventory."""
    app = create_app(ApiSettings(database_url="sqlite://"), engine=engine)
    app.dependency_overrides[get_session] = lambda: inventory
    with TestClient(app) as client:
        # Keys are checked in short sessions of their own: here on the test's connection,
        # so that they see the keys made in the test's transaction.
        app.state.session_factory = sessionmaker(
            bind=inventory.connection(), join_transaction_mode="create_savepoint"
        )
        yield client


def _as(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _state(session: Session, code: str, state: HealthState, at: datetime) -> None:
    station_id = get_station(session, network="TJ", station=code).id
    save_station_state(session, station_id=station_id, state=state, reason="drill", now=at)


def _stationxml(network: str = "XX", stations: tuple[str, ...] = ("NEWST",)) -> bytes:
    def station(code: str) -> ObspyStation:
        channel = ObspyChannel(
            "HHZ", "", latitude=38.5, longitude=72.1, elevation=3000.0, depth=0.0
        )
        channel.sample_rate, channel.azimuth, channel.dip = 100.0, 0.0, -90.0
        return ObspyStation(
            code,
            latitude=38.5,
            longitude=72.1,
            elevation=3000.0,
            site=Site(name=f"{code} site"),
            channels=[channel],
        )

    inventory = Inventory(
        networks=[ObspyNetwork(network, stations=[station(s) for s in stations])], source="test"
    )
    out = io.BytesIO()
    inventory.write(out, format="STATIONXML")
    return out.getvalue()


def test_every_write_needs_a_valid_key(api: TestClient, keys: Keys) -> None:
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/stations", {"content": _stationxml(), "headers": XML}),
        ("PATCH", SAREZ, {"json": {"maintenance": True}}),
        ("POST", f"{SAREZ}/acknowledgements", {"json": {"comment": "on it"}}),
    ]
    for method, url, request in writes:
        headers = request.pop("headers", {})
        missing = api.request(method, url, headers=headers, **request)
        assert missing.status_code == 401, (method, url)
        assert "X-API-Key" in missing.json()["detail"]
        for bad in (keys.revoked, "larza_not-a-key"):
            refused = api.request(method, url, headers={**headers, **_as(bad)}, **request)
            assert refused.status_code == 403, (method, url, bad)
    assert api.get(f"{SAREZ}/acknowledgements").json() == []  # nothing was written
    assert api.get(SAREZ).json()["maintenance"] is None
    assert "XX.NEWST" not in {s["id"] for s in api.get("/api/v1/stations").json()}


def test_an_acknowledgement_holds_until_the_next_state_change(
    api: TestClient, inventory: Session, keys: Keys
) -> None:
    _state(inventory, "SAREZ", HealthState.OK, NOW - timedelta(hours=2))
    _state(inventory, "SAREZ", HealthState.DOWN, NOW - timedelta(minutes=30))
    assert api.get(SAREZ).json()["acknowledged"] is None

    answer = api.post(
        f"{SAREZ}/acknowledgements", json={"comment": "Firuz drives up"}, headers=_as(keys.night)
    )
    assert answer.status_code == 201, answer.text
    ack = answer.json()
    down = api.get("/api/v1/state-changes").json()["items"][-1]
    assert ack["station"] == "TJ.SAREZ"
    assert (ack["state"], ack["state_change_id"]) == ("DOWN", down["id"])
    assert (ack["comment"], ack["by"]) == ("Firuz drives up", "night shift")
    at = datetime.fromisoformat(ack["at"])
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=1)

    seen = {"by": "night shift", "at": ack["at"], "comment": "Firuz drives up"}
    assert api.get(SAREZ).json()["acknowledged"] == seen
    listed = {s["id"]: s for s in api.get("/api/v1/stations").json()}
    assert listed["TJ.SAREZ"]["acknowledged"] == seen
    assert listed["TJ.MURGH"]["acknowledged"] is None
    changes = api.get("/api/v1/state-changes").json()["items"]
    assert [(c["to_state"], c["acknowledged"]) for c in changes] == [("OK", None), ("DOWN", seen)]
    history = api.get(f"{SAREZ}/history").json()["items"]
    assert history[-1]["acknowledged"] == seen

    again = api.post(f"{SAREZ}/acknowledgements", json={"comment": "me too"}, headers=_as(keys.day))
    assert again.status_code == 409
    assert "TJ.SAREZ is DOWN" in again.json()["detail"]
    assert "acknowledged already by 'night shift'" in again.json()["detail"]
    assert at.strftime("%Y-%m-%d %H:%M:%S") in again.json()["detail"]

    # A new state is unacknowledged again; the old acknowledgement stays with its change.
    _state(inventory, "SAREZ", HealthState.DEGRADED, NOW - timedelta(minutes=5))
    assert api.get(SAREZ).json()["acknowledged"] is None
    second = api.post(
        f"{SAREZ}/acknowledgements", json={"comment": "power back, GPS not"}, headers=_as(keys.day)
    )
    assert second.status_code == 201, second.text
    assert (second.json()["state"], second.json()["by"]) == ("DEGRADED", "day shift")
    assert api.get(SAREZ).json()["acknowledged"]["comment"] == "power back, GPS not"
    changes = api.get("/api/v1/state-changes").json()["items"]
    assert [c["acknowledged"] and c["acknowledged"]["by"] for c in changes] == [
        None,
        "night shift",
        "day shift",
    ]
    listed_acks = api.get(f"{SAREZ}/acknowledgements").json()
    assert [a["id"] for a in listed_acks] == [second.json()["id"], ack["id"]]  # newest first
    assert listed_acks[1] == ack
    assert len(api.get(f"{SAREZ}/acknowledgements", params={"limit": 1}).json()) == 1

    _state(inventory, "SAREZ", HealthState.OK, NOW)
    ok = api.post(f"{SAREZ}/acknowledgements", json={"comment": "?"}, headers=_as(keys.day))
    assert ok.status_code == 409
    assert ok.json()["detail"] == "TJ.SAREZ is OK: nothing to acknowledge"
    assert api.get(SAREZ).json()["acknowledged"] is None


def test_acknowledgement_refusals(api: TestClient, inventory: Session, keys: Keys) -> None:
    key = _as(keys.night)
    url = "/api/v1/stations/TJ.NOWHERE/acknowledgements"
    missing = api.post(url, json={"comment": "x"}, headers=key)
    assert (missing.status_code, missing.json()["detail"]) == (404, "no station 'TJ.NOWHERE'")
    assert api.get(url).status_code == 404
    never = api.post(
        "/api/v1/stations/TJ.MANEM/acknowledgements", json={"comment": "x"}, headers=key
    )
    assert never.status_code == 409
    assert never.json()["detail"] == "TJ.MANEM has no state yet: nothing to acknowledge"

    _state(inventory, "SAREZ", HealthState.DOWN, NOW)
    for body in ({}, {"comment": ""}, {"comment": "   "}, {"comment": "x" * 1001}, {"c": 1}):
        answer = api.post(f"{SAREZ}/acknowledgements", json=body, headers=key)
        assert answer.status_code == 422, body
    bad_id = api.post("/api/v1/stations/SAREZ/acknowledgements", json={"comment": "x"}, headers=key)
    assert bad_id.status_code == 422
    assert api.get(f"{SAREZ}/acknowledgements", params={"limit": 5000}).status_code == 400
    longest = api.post(f"{SAREZ}/acknowledgements", json={"comment": "x" * 1000}, headers=key)
    assert longest.status_code == 201
    lower = api.post(
        "/api/v1/stations/tj.sarez/acknowledgements", json={"comment": "x"}, headers=key
    )
    assert lower.status_code == 409  # the same station, acknowledged already


def test_maintenance_is_shown_and_the_state_still_evaluated(
    api: TestClient, inventory: Session, keys: Keys
) -> None:
    assert api.get(SAREZ).json()["maintenance"] is None
    answer = api.patch(
        SAREZ,
        json={"maintenance": True, "note": "field visit: battery swap"},
        headers=_as(keys.day),
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["id"] == "TJ.SAREZ"
    maintenance = shown["maintenance"]
    assert (maintenance["on"], maintenance["note"], maintenance["by"]) == (
        True,
        "field visit: battery swap",
        "day shift",
    )
    since = datetime.fromisoformat(maintenance["since"])
    assert abs(since - datetime.now(UTC)) < timedelta(minutes=1)
    assert api.get(SAREZ).json()["maintenance"] == maintenance
    listed = {s["id"]: s for s in api.get("/api/v1/stations").json()}
    assert listed["TJ.SAREZ"]["maintenance"] == maintenance
    assert listed["TJ.MURGH"]["maintenance"] is None

    # The worker goes on evaluating: the state is stored and shown as usual.
    _state(inventory, "SAREZ", HealthState.DOWN, datetime.now(UTC))
    during = api.get(SAREZ).json()
    assert (during["state"], during["maintenance"]["on"]) == ("DOWN", True)
    assert api.get("/api/v1/state-changes").json()["items"][-1]["to_state"] == "DOWN"

    # The note alone: maintenance and its start stay; who and when move.
    noted = api.patch(SAREZ, json={"note": "battery swapped, GPS next"}, headers=_as(keys.night))
    assert noted.status_code == 200
    after_note = noted.json()["maintenance"]
    assert after_note["on"] is True
    assert after_note["since"] == maintenance["since"]
    assert (after_note["note"], after_note["by"]) == ("battery swapped, GPS next", "night shift")
    assert after_note["updated_at"] >= maintenance["updated_at"]

    ended = api.patch(SAREZ, json={"maintenance": False}, headers=_as(keys.night)).json()
    assert ended["maintenance"]["on"] is False
    assert ended["maintenance"]["note"] == "battery swapped, GPS next"
    assert ended["maintenance"]["since"] >= after_note["since"]
    same = api.patch(SAREZ, json={"maintenance": False}, headers=_as(keys.night)).json()
    assert same["maintenance"]["since"] == ended["maintenance"]["since"]
    cleared = api.patch(SAREZ, json={"note": None}, headers=_as(keys.night)).json()
    assert cleared["maintenance"]["note"] is None

    # A note before any maintenance, on another station.
    murgh = api.patch(
        "/api/v1/stations/TJ.MURGH", json={"note": "road closed"}, headers=_as(keys.day)
    )
    assert murgh.status_code == 200
    assert (murgh.json()["maintenance"]["on"], murgh.json()["maintenance"]["note"]) == (
        False,
        "road closed",
    )


def test_maintenance_refusals(api: TestClient, keys: Keys) -> None:
    key = _as(keys.day)
    missing = api.patch("/api/v1/stations/TJ.NOWHERE", json={"maintenance": True}, headers=key)
    assert (missing.status_code, missing.json()["detail"]) == (404, "no station 'TJ.NOWHERE'")
    for body in (
        {},
        {"maintenance": None},
        {"maintenance": "sometimes"},
        {"maintenance": True, "note": ""},
        {"maintenance": True, "note": "x" * 1001},
        {"maintenance": True, "mantenance_note": "typo"},
        [],
        "on",
    ):
        answer = api.patch(SAREZ, json=body, headers=key)
        assert answer.status_code == 422, body
    not_json = api.patch(SAREZ, content=b"{", headers={**key, "Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert api.get(SAREZ).json()["maintenance"] is None


def _stations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Station)) or 0


def test_import_stationxml(api: TestClient, inventory: Session, keys: Keys) -> None:
    answer = api.post(
        "/api/v1/stations",
        content=_stationxml("XX", ("NEWST", "OTHER")),
        headers={**_as(keys.day), "Content-Type": "text/xml; charset=utf-8"},
        params={"name": "xx-network.xml"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "name": "xx-network.xml",
        "networks": 1,
        "stations": 2,
        "channels": 2,
        "station_ids": ["XX.NEWST", "XX.OTHER"],
    }
    listed = {s["id"]: s for s in api.get("/api/v1/stations").json()}
    assert {"XX.NEWST", "XX.OTHER", "TJ.SAREZ"} <= set(listed)
    assert listed["XX.NEWST"]["site_name"] == "NEWST site"
    assert [c["id"] for c in listed["XX.NEWST"]["channels"]] == ["XX.NEWST..HHZ"]
    document = inventory.scalars(
        select(InventoryDocument).order_by(InventoryDocument.id.desc()).limit(1)
    ).one()
    assert document.source == "xx-network.xml"
    assert document.api_key_id is not None

    # The shipped inventory again, as `larza stations import` would: updated in place.
    again = api.post(
        "/api/v1/stations",
        content=default_inventory_path().read_bytes(),
        headers={**_as(keys.day), **XML},
    )
    assert again.status_code == 200
    assert (again.json()["name"], again.json()["stations"], again.json()["channels"]) == (
        "api.xml",
        3,
        18,
    )
    assert again.json()["station_ids"] == ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"]
    assert _stations(inventory) == 5


def test_import_refusals(api: TestClient, inventory: Session, keys: Keys) -> None:
    key = _as(keys.day)
    before = _stations(inventory)
    broken = api.post("/api/v1/stations", content=b"<FDSNStationXML><oops", headers={**key, **XML})
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("api.xml: not valid StationXML")
    empty = api.post("/api/v1/stations", content=b"", headers={**key, **XML})
    assert (empty.status_code, empty.json()["detail"]) == (400, "api.xml: the file is empty")

    # The third station's last channel has no sample rate: nothing of the document is kept.
    text = default_inventory_path().read_text().replace('code="TJ"', 'code="XY"')
    head, _sep, tail = text.rpartition("<SampleRate>100.0</SampleRate>")
    half = api.post(
        "/api/v1/stations",
        content=(head + "<SampleRate>0.0</SampleRate>" + tail).encode(),
        headers={**key, **XML},
        params={"name": "half.xml"},
    )
    assert half.status_code == 400
    assert half.json()["detail"].startswith("half.xml: XY.MANEM..HNE: SampleRate 0 is outside")
    assert inventory.scalar(select(Network).where(Network.code == "XY")) is None
    assert _stations(inventory) == before

    # Longer than its column: refused before anything is written, on every database.
    long_code = api.post(
        "/api/v1/stations", content=_stationxml("XX", ("NINECHARS",)), headers={**key, **XML}
    )
    assert long_code.status_code == 400
    assert "station code 'NINECHARS' in XX is not 1 to 8" in long_code.json()["detail"]

    as_json = api.post("/api/v1/stations", json={"xml": "<x/>"}, headers=key)
    assert as_json.status_code == 415
    assert "application/xml" in as_json.json()["detail"]
    too_big = api.post(
        "/api/v1/stations", content=b" " * (STATIONXML_MAX_BYTES + 1), headers={**key, **XML}
    )
    assert too_big.status_code == 413
    for name in ("../etc/passwd", "", "a" * 201, "with space.xml"):
        bad = api.post(
            "/api/v1/stations",
            content=_stationxml(),
            headers={**key, **XML},
            params={"name": name},
        )
        assert bad.status_code == 422, name
    assert _stations(inventory) == before


def _call(method: str, url: str, key: str, json_body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json_body,
        headers={"X-API-Key": key, "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        e.close()
        return e.code, text


@pytest.fixture
def served(fresh_database_url: str) -> Iterator[tuple[Serving, str, str]]:
    """The API over a database of its own, with two keys and TJ.SAREZ DOWN."""
    database = prepared(fresh_database_url)
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        _, first = create_api_key(s, name="first", now=NOW)
        _, second = create_api_key(s, name="second", now=NOW)
        _state(s, "SAREZ", HealthState.DOWN, NOW)
    engine.dispose()
    with serving(ApiSettings(database_url=database, webhooks_enabled=False)) as api:
        yield api, first, second


@pytest.mark.e2e
def test_two_operators_at_once_acknowledge_once(served: tuple[Serving, str, str]) -> None:
    api, first, second = served
    url = f"{api.url}{SAREZ}/acknowledgements"
    answers: dict[str, tuple[int, str]] = {}
    barrier = threading.Barrier(2)

    def acknowledge(key: str) -> None:
        barrier.wait()
        answers[key] = _call("POST", url, key, b'{"comment": "mine"}')

    threads = [threading.Thread(target=acknowledge, args=(k,)) for k in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(status for status, _ in answers.values()) == [201, 409], answers
    with urllib.request.urlopen(url) as r:
        listed = r.read().decode()
    assert listed.count('"comment":"mine"') == 1
    patched = _call("PATCH", f"{api.url}{SAREZ}", second, b'{"maintenance": true}')
    assert patched[0] == 200, patched
    with urllib.request.urlopen(f"{api.url}{SAREZ}") as r:
        assert '"on":true' in r.read().decode()
