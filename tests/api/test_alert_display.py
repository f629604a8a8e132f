"""What readers of an alert need without knowing the worker's ``content`` keys: the
epicentre in words (``place``) and each target site's predicted intensity and S arrival
(``sites``), in the REST API, on the stream and in webhooks; alerts filtered by the time
they were created; and alert messages leaving for webhooks at once, not at the next poll."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.routers.stream import read_batch
from api.settings import ApiSettings
from stations.alerts import AlertMessage, add_alert_version, alert_changes
from stations.changes import last_change_id, log_changes
from stations.db import make_engine, make_session_factory

from ..alert_messages import cancel_message, network_message
from ..conftest import free_port
from .test_stream import Serving, serving
from .test_webhooks import Receiver, call, wait_for

T0 = datetime(2026, 12, 3, 1, 0, 0, tzinfo=UTC)
S_AFTER = {"Usoi dam": 4.5, "Khorugh": 21.0}
MMI = {"Usoi dam": 6.8, "Khorugh": 4.2}


def _created(made: datetime = T0, magnitude: float = 5.2) -> AlertMessage:
    return network_message("created", made=made, magnitude=magnitude, s_after=S_AFTER, mmi=MMI)


def test_a_version_says_where_and_what_each_site_gets(
    client: TestClient, inventory: Session
) -> None:
    first = add_alert_version(inventory, alert_id=None, message=_created(), now=T0)
    add_alert_version(
        inventory, alert_id=first.alert_id, message=cancel_message(), now=T0 + timedelta(seconds=4)
    )
    answer = client.get(f"/api/v1/alerts/{first.alert_id}").json()
    created, cancelled = answer["versions"]
    assert created["place"] == "12 km SW of Sarez"  # as events say it: the nearest station used
    assert [s["name"] for s in created["sites"]] == ["Usoi dam", "Khorugh"]
    dam = created["sites"][0]
    assert dam["mmi"] == 6.8
    assert dam["warning_s"] == 4.5
    assert dam["alert"] is True
    assert datetime.fromisoformat(dam["s_arrival"]) == T0 + timedelta(seconds=4.5)
    assert created["sites"][1]["alert"] is False  # 4.2 is below the test's threshold of 5
    # the message as stored is still there, beside its reading
    assert created["content"]["sites"][0]["s_arrival"] == dam["s_arrival"].replace("Z", "+00:00")
    assert cancelled["place"] is None
    assert cancelled["sites"] == []
    assert cancelled["reason"] == "the picks were coincident glitches"
    listed = client.get("/api/v1/alerts").json()["items"]
    assert listed[0]["latest"]["action"] == "cancelled"
    assert listed[0]["versions"][0]["place"] == "12 km SW of Sarez"


def test_sites_the_message_does_not_describe_whole_are_left_out(
    client: TestClient, inventory: Session
) -> None:
    half = {"name": "Rogun dam", "latitude": 38.7, "longitude": 69.8, "mmi": 3.0}  # no S time
    message = AlertMessage(
        action="created",
        latitude=38.19,
        longitude=72.50,
        depth_km=10.0,
        magnitude=4.0,
        content={"sites": [half], "stations": ["TJ.NOPE", "XX.SAREZ"]},
    )
    made = add_alert_version(inventory, alert_id=None, message=message, now=T0)
    version = client.get(f"/api/v1/alerts/{made.alert_id}").json()["latest"]
    assert version["sites"] == []
    assert version["place"] is None  # none of the stations it names is in the inventory


def test_the_stream_carries_place_and_sites(inventory: Session) -> None:
    after = last_change_id(inventory)
    version = add_alert_version(inventory, alert_id=None, message=_created(), now=T0)
    log_changes(inventory, changes=alert_changes([version]), now=T0)
    batch, _ = read_batch(inventory, after)
    (message,) = batch.messages
    assert message.text.startswith(f"id: {message.id}\nevent: alert\ndata: ")
    data = json.loads(message.text.split("data: ", 1)[1])
    assert data["place"] == "12 km SW of Sarez"
    assert [(s["name"], s["mmi"]) for s in data["sites"]] == [("Usoi dam", 6.8), ("Khorugh", 4.2)]


def test_alerts_filtered_by_the_time_they_were_created(
    client: TestClient, inventory: Session
) -> None:
    ids = []
    for hours in (0, 5, 30):
        made = T0 + timedelta(hours=hours)
        ids.append(add_alert_version(inventory, alert_id=None, message=_created(made), now=made))
    alert_ids = [v.alert_id for v in ids]

    def listed(query: str) -> list[int]:
        answer = client.get(f"/api/v1/alerts?{query}")
        assert answer.status_code == 200, answer.text
        return [a["id"] for a in answer.json()["items"]]

    assert listed("start=2026-12-03T01:00:00Z") == alert_ids
    assert listed("start=2026-12-03T01:00:01Z") == alert_ids[1:]
    assert listed("start=2026-12-03T00:00:00Z&end=2026-12-04T00:00:00Z") == alert_ids[:2]
    assert listed("end=2026-12-03T06:00:01") == alert_ids[:2]  # no zone: UTC
    page = client.get("/api/v1/alerts?start=2026-12-03T00:00:00Z&limit=1").json()
    assert "start=2026-12-03" in page["next"]
    reversed_window = client.get("/api/v1/alerts?start=2026-12-04T00:00:00Z&end=2026-12-03")
    assert reversed_window.status_code == 400
    assert "end must be after start" in reversed_window.json()["detail"]
    assert client.get("/api/v1/alerts?start=12345").status_code in (400, 422)


def test_the_history_page_is_served(client: TestClient) -> None:
    page = client.get("/alerts")
    assert page.status_code == 200
    assert 'href="/alerts"' in page.text  # the navigation links to it
    assert 'id="alert-banner"' in page.text


@pytest.fixture
def slow_poll(database: str) -> Iterator[Serving]:
    """An API whose webhook delivery would look for work once a minute if nothing woke it."""
    settings = ApiSettings(
        database_url=database,
        webhook_poll_s=60.0,
        webhook_timeout_s=5.0,
        webhook_backoff_max_s=0.3,
        webhook_allow_networks="127.0.0.0/8",
    )
    with serving(settings) as s:
        yield s


@pytest.mark.e2e
def test_alert_messages_leave_for_webhooks_at_once(slow_poll: Serving, database: str) -> None:
    from stations.apikeys import create_api_key

    engine = make_engine(database)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        _, key = create_api_key(s, name="civil protection", now=datetime.now(UTC))
    port = free_port()
    receiver = Receiver(port).start()
    try:
        status, _ = call(
            "POST",
            f"{slow_poll.url}/api/v1/webhooks",
            key,
            {"url": f"http://127.0.0.1:{port}/cap", "kinds": ["alert"]},
        )
        assert status == 201
        time.sleep(0.5)  # let the delivery loop's first round pass: it now waits its minute
        now = datetime.now(UTC)
        messages = [
            _created(now),
            network_message("updated", made=now, magnitude=5.6, s_after=S_AFTER, mmi=MMI),
            cancel_message(),
        ]
        alert_id = None
        for message in messages:  # one transaction each, as the worker sends them
            with factory() as s, s.begin():
                version = add_alert_version(s, alert_id=alert_id, message=message, now=now)
                alert_id = version.alert_id
                log_changes(s, changes=alert_changes([version]), now=now)
        # Well inside the minute the loop would otherwise wait (a loaded machine included).
        wait_for(lambda: len(receiver.accepted("/cap")) >= 3, "three alert messages", 30.0)
    finally:
        receiver.stop()
        engine.dispose()
    bodies = [c["data"] for d in receiver.deliveries for c in json.loads(d.body)["changes"]]
    assert [(b["version"], b["action"]) for b in bodies] == [
        (1, "created"),
        (2, "updated"),
        (3, "cancelled"),
    ]
    assert bodies[1]["place"] == "12 km SW of Sarez"
    assert bodies[1]["sites"][0]["name"] == "Usoi dam"


@pytest.mark.parametrize(
    ("latitude", "longitude", "said"),
    [
        (38.19, 72.50, "12 km SW of Sarez"),  # south and west of the station
        (38.40, 72.60, "14 km N of Sarez"),
        (38.27, 72.80, "18 km E of Sarez"),
        (38.271, 72.601, "near Sarez"),
    ],
)
def test_a_place_is_said_from_the_station(latitude: float, longitude: float, said: str) -> None:
    from api.places import place_name

    assert place_name(latitude, longitude, [(38.27, 72.60, "Sarez")]) == said
