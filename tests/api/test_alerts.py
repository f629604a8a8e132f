"""Early-warning alerts: every version kept and served, CAP 1.2 valid against OASIS's schema,
and an alert updated then cancelled reaching a webhook receiver and an SSE client in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy.orm import Session

from api.settings import ApiSettings
from stations.alerts import AlertClosedError, AlertMessage, add_alert_version, alert_changes
from stations.changes import log_changes
from stations.db import make_engine, make_session_factory

from ..conftest import free_port
from .test_stream import Serving, serving
from .test_webhooks import Receiver, call, wait_for

CAP_XSD = Path(__file__).resolve().parents[1] / "data" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
T0 = datetime(2026, 12, 2, 22, 0, 0, 250000, tzinfo=UTC)
SITES = [
    {"name": "Usoi dam", "latitude": 38.27, "longitude": 72.61, "mmi": 6.2, "warning_s": 14.5},
    {"name": "Khorugh", "latitude": 37.49, "longitude": 71.55, "mmi": 4.1, "warning_s": 31.0},
]


def created(**extra: object) -> AlertMessage:
    fields: dict[str, object] = {
        "action": "created",
        "origin_time": T0,
        "latitude": 38.4,
        "longitude": 72.9,
        "depth_km": 150.0,
        "magnitude": 5.6,
        "magnitude_sigma": 0.4,
        "content": {"sites": SITES, "stations": ["TJ.SAREZ", "TJ.MURGH"]},
    }
    fields.update(extra)
    return AlertMessage(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CAP_XSD)))


def test_versions_are_kept_and_served(client: TestClient, inventory: Session) -> None:
    first = add_alert_version(inventory, alert_id=None, message=created(), now=T0)
    later = T0 + timedelta(seconds=3)
    add_alert_version(
        inventory,
        alert_id=first.alert_id,
        message=created(action="updated", magnitude=6.1, reason="two more stations"),
        now=later,
    )
    add_alert_version(
        inventory,
        alert_id=first.alert_id,
        message=AlertMessage(action="ended", reason="the S waves have passed every site"),
        now=later + timedelta(seconds=60),
    )
    with pytest.raises(AlertClosedError):
        add_alert_version(
            inventory, alert_id=first.alert_id, message=AlertMessage(action="updated"), now=later
        )
    listed = client.get("/api/v1/alerts").json()
    assert [a["id"] for a in listed["items"]] == [first.alert_id]
    one = client.get(f"/api/v1/alerts/{first.alert_id}").json()
    assert one["status"] == "ended"
    assert one["version"] == 3
    assert [v["action"] for v in one["versions"]] == ["created", "updated", "ended"]
    assert [v["magnitude"] for v in one["versions"]] == [5.6, 6.1, None]
    assert one["versions"][0]["content"]["sites"][0]["name"] == "Usoi dam"
    assert client.get("/api/v1/alerts?status=active").json()["items"] == []
    assert client.get("/api/v1/alerts/999").status_code == 404
    assert client.get(f"/api/v1/alerts/{first.alert_id}?format=cap&version=9").status_code == 400


def test_cap_is_valid_cap_1_2_for_every_action(
    client: TestClient, inventory: Session, schema: etree.XMLSchema
) -> None:
    first = add_alert_version(inventory, alert_id=None, message=created(), now=T0)
    add_alert_version(
        inventory,
        alert_id=first.alert_id,
        message=created(action="updated", magnitude=6.0),
        now=T0 + timedelta(seconds=2),
    )
    add_alert_version(
        inventory,
        alert_id=first.alert_id,
        message=AlertMessage(action="cancelled", reason="a glitch at two stations"),
        now=T0 + timedelta(seconds=5),
    )
    onsite = add_alert_version(
        inventory,
        alert_id=None,
        message=AlertMessage(
            action="created", kind="onsite", station="TJ.SAREZ", content={"mmi": 5.5}
        ),
        now=T0,
    )
    documents = []
    for alert_id, version in [(first.alert_id, v) for v in (1, 2, 3)] + [(onsite.alert_id, 1)]:
        answer = client.get(f"/api/v1/alerts/{alert_id}?format=cap&version={version}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/cap+xml")
        document = etree.fromstring(answer.content)
        schema.assertValid(document)
        documents.append(document)

    def text(doc: etree._Element, path: str) -> list[str]:
        return [e.text for e in doc.findall(path, NS)]

    alert, update, cancel, station = documents
    assert text(alert, "cap:msgType") == ["Alert"]
    assert text(alert, "cap:sent") == ["2026-12-02T22:00:00+00:00"]
    assert text(alert, "cap:info/cap:severity") == ["Severe"]  # intensity 6.2 at the dam
    assert text(alert, "cap:info/cap:area/cap:areaDesc") == [
        "epicentre (estimated)",
        "Usoi dam",
        "Khorugh",
    ]
    assert text(alert, "cap:references") == []
    assert text(update, "cap:msgType") == ["Update"]
    assert text(update, "cap:references") == [
        f"larza@geophysics.tj,larza.alert.{first.alert_id}.1,2026-12-02T22:00:00+00:00"
    ]
    assert text(cancel, "cap:msgType") == ["Cancel"]
    assert len(text(cancel, "cap:references")[0].split()) == 2
    assert "a glitch" in text(cancel, "cap:note")[0]
    assert text(station, "cap:info/cap:certainty") == ["Observed"]
    assert "TJ.SAREZ" in text(station, "cap:info/cap:headline")[0]


def test_the_schema_check_is_not_vacuous(schema: etree.XMLSchema) -> None:
    bad = (
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>'
        b"<sender>s</sender><sent>2026-12-02T22:00:00Z</sent><status>Actual</status>"
        b"<msgType>Alert</msgType><scope>Public</scope></alert>"
    )
    assert not schema.validate(etree.fromstring(bad))  # "Z" is not CAP's time


@pytest.fixture
def api(database: str) -> Iterator[Serving]:
    settings = ApiSettings(
        database_url=database,
        webhook_poll_s=0.05,
        webhook_timeout_s=2.0,
        webhook_backoff_max_s=0.3,
        webhook_allow_networks="127.0.0.0/8",
    )
    with serving(settings) as s:
        yield s


@pytest.mark.e2e
def test_an_alert_updated_then_cancelled_reaches_a_webhook_in_order(
    api: Serving, database: str
) -> None:
    from stations.apikeys import create_api_key

    engine = make_engine(database)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        _, key = create_api_key(s, name="civil protection", now=datetime.now(UTC))
    port = free_port()
    receiver = Receiver(port).start()
    try:
        status, hook = call(
            "POST",
            f"{api.url}/api/v1/webhooks",
            key,
            {"url": f"http://127.0.0.1:{port}/cap", "kinds": ["alert"]},
        )
        assert status == 201
        messages = [
            created(),
            created(action="updated", magnitude=6.0, reason="a third station"),
            AlertMessage(action="cancelled", reason="the picks were a telemetry spike"),
        ]
        alert_id = None
        changes = []
        for message in messages:  # one transaction each, as the worker sends them
            with factory() as s, s.begin():
                version = add_alert_version(
                    s, alert_id=alert_id, message=message, now=datetime.now(UTC)
                )
                alert_id = version.alert_id
                logged = log_changes(s, changes=alert_changes([version]), now=datetime.now(UTC))
                changes += [c.id for c in logged]
        wait_for(lambda: len(receiver.accepted("/cap")) >= 3, "three alert messages")
    finally:
        receiver.stop()
        engine.dispose()
    assert receiver.accepted("/cap") == changes
    bodies = [c for d in receiver.deliveries for c in json.loads(d.body)["changes"]]
    assert [c["kind"] for c in bodies] == ["alert"] * 3
    assert [(c["data"]["version"], c["data"]["action"]) for c in bodies] == [
        (1, "created"),
        (2, "updated"),
        (3, "cancelled"),
    ]
    assert bodies[1]["data"]["magnitude"] == 6.0
    assert hook["kinds"] == ["alert"]


def test_metrics_carry_the_alert_steps_latency(client: TestClient, inventory: Session) -> None:
    timed = {"latency_s": {"detect": 0.004, "warn": 0.03, "store": 0.002}}
    add_alert_version(inventory, alert_id=None, message=created(content=timed), now=T0)
    text = client.get("/metrics").text
    assert 'larza_alert_step_seconds_bucket{le="0.005",step="detect"} 1.0' in text
    assert 'larza_alert_step_seconds_bucket{le="0.025",step="warn"} 0.0' in text
    assert 'larza_alert_step_seconds_bucket{le="0.05",step="warn"} 1.0' in text
    assert 'larza_alert_step_seconds_count{step="store"} 1.0' in text
