"""Station health through the API: stored states with reasons, staleness when no worker
evaluates, state-change history with a cursor, and channel metric history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stations.health import ChannelReport, add_snapshots, save_channel_health, save_station_state
from stations.models import HealthState
from stations.queries import ChannelKey, channel_index, get_station, record_arrival

NOW = datetime.now(UTC).replace(microsecond=0)


def _station_id(session: Session, code: str) -> int:
    return get_station(session, network="TJ", station=code).id


def _evaluate(session: Session, code: str, state: HealthState, reason: str, at: datetime) -> None:
    save_station_state(
        session, station_id=_station_id(session, code), state=state, reason=reason, now=at
    )


def test_stored_state_reason_and_channel_metrics(client: TestClient, inventory: Session) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # when it runs: the states depend on the clock
    hhz = channel_index(inventory)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
    record_arrival(inventory, channel_id=hhz.id, last_sample_time=now, arrival_time=now)
    report = ChannelReport(
        hhz.id,
        HealthState.DEGRADED,
        "clipping 12 % of the last 10 min",
        {"availability_pct": 99.5, "clipped_pct": 12.0, "clock_locked": True},
    )
    save_channel_health(inventory, reports=[report], now=now)
    _evaluate(
        inventory, "SAREZ", HealthState.DEGRADED, "HHZ: clipping 12 % of the last 10 min", now
    )
    body = {s["id"]: s for s in client.get("/api/v1/stations").json()}
    sarez = body["TJ.SAREZ"]
    assert sarez["state"] == "DEGRADED"
    assert sarez["reason"] == "HHZ: clipping 12 % of the last 10 min"
    assert sarez["stale"] is False
    assert sarez["since"] is not None
    channel = next(c for c in sarez["channels"] if c["code"] == "HHZ")
    assert channel["state"] == "DEGRADED"
    assert channel["metrics"]["clipped_pct"] == 12.0
    # A station no worker has evaluated: stale, its state from latency alone, and it says so.
    manem = body["TJ.MANEM"]
    assert manem["stale"] is True
    assert manem["state"] == "UNKNOWN"
    assert "not evaluated by a worker (never)" in manem["reason"]


def test_an_old_evaluation_is_stale(client: TestClient, inventory: Session) -> None:
    _evaluate(inventory, "MURGH", HealthState.OK, "", NOW - timedelta(hours=1))
    murgh = client.get("/api/v1/stations/TJ.MURGH").json()
    assert murgh["stale"] is True
    assert murgh["state"] == "UNKNOWN"  # no data at all, so latency cannot say
    assert "not since" in murgh["reason"]


def test_state_changes_page_with_a_cursor(client: TestClient, inventory: Session) -> None:
    t = NOW - timedelta(minutes=30)
    _evaluate(inventory, "SAREZ", HealthState.OK, "", t)
    _evaluate(inventory, "MURGH", HealthState.OK, "", t)
    _evaluate(inventory, "SAREZ", HealthState.OK, "", t + timedelta(minutes=1))  # no change
    _evaluate(
        inventory, "SAREZ", HealthState.DOWN, "HHZ: no data for 11 min", t + timedelta(minutes=12)
    )
    _evaluate(inventory, "SAREZ", HealthState.OK, "", t + timedelta(minutes=20))
    page = client.get("/api/v1/state-changes", params={"limit": 2}).json()
    assert [(c["station"], c["from_state"], c["to_state"]) for c in page["items"]] == [
        ("TJ.SAREZ", "UNKNOWN", "OK"),
        ("TJ.MURGH", "UNKNOWN", "OK"),
    ]
    rest = client.get(page["next"]).json()
    assert [(c["from_state"], c["to_state"]) for c in rest["items"]] == [
        ("OK", "DOWN"),
        ("DOWN", "OK"),
    ]
    assert rest["items"][0]["reason"] == "HHZ: no data for 11 min"
    assert client.get(rest["next"]).json()["items"] == []
    history = client.get("/api/v1/stations/TJ.SAREZ/history").json()["items"]
    assert [c["to_state"] for c in history] == ["OK", "DOWN", "OK"]
    window = client.get(
        "/api/v1/stations/TJ.SAREZ/history",
        params={"start": (t + timedelta(minutes=5)).isoformat()},
    ).json()["items"]
    assert [c["to_state"] for c in window] == ["DOWN", "OK"]


def test_channel_health_history(client: TestClient, inventory: Session) -> None:
    hhz = channel_index(inventory)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
    for minute in range(5):
        report = ChannelReport(hhz.id, HealthState.OK, "", {"rms": 100.0 + minute})
        add_snapshots(
            inventory, reports=[report], now=NOW - timedelta(minutes=5 - minute), interval_s=60
        )
    url = "/api/v1/channels/TJ.SAREZ..HHZ/health"
    items = client.get(url).json()["items"]
    assert [i["metrics"]["rms"] for i in items] == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert items[0]["metrics"]["state"] == "OK"
    recent = client.get(url, params={"start": (NOW - timedelta(minutes=2, seconds=30)).isoformat()})
    assert len(recent.json()["items"]) == 2
    missing = client.get("/api/v1/channels/TJ.SAREZ..XXZ/health")
    assert missing.status_code == 404
    assert "TJ.SAREZ..XXZ" in missing.text
    assert client.get("/api/v1/channels/nonsense/health").status_code == 422


def _report(session: Session, code: str, state: HealthState, reason: str, newest: datetime) -> None:
    channel = channel_index(session)[ChannelKey("TJ", "SAREZ", "", code)]
    record_arrival(session, channel_id=channel.id, last_sample_time=newest, arrival_time=newest)
    # The worker's figures cover the window ending at the newest sample: complete.
    metrics = {"availability_pct": 100.0, "window_s": 600.0}
    report = ChannelReport(channel.id, state, reason, metrics)
    save_channel_health(session, reports=[report], now=datetime.now(UTC))


def _channels(client: TestClient) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in client.get("/api/v1/stations/TJ.SAREZ").json()["channels"]}


def test_a_silent_channel_does_not_show_full_availability(
    client: TestClient, inventory: Session
) -> None:
    now = datetime.now(UTC)
    _report(inventory, "HHZ", HealthState.DOWN, "no data for 12 min", now - timedelta(minutes=12))
    _report(inventory, "HHN", HealthState.DOWN, "no data for 11 min", now - timedelta(minutes=11))
    _report(inventory, "HHE", HealthState.OK, "", now - timedelta(seconds=2))
    _evaluate(inventory, "SAREZ", HealthState.DOWN, "HHN, HHZ: no data for 11 min", now)
    channels = _channels(client)
    # Silent for longer than the window: nothing in it.
    assert channels["HHZ"]["availability_pct"] == 0.0
    assert channels["HHZ"]["metrics"]["availability_pct"] == 100.0  # the worker's own figure
    # A healthy channel keeps the worker's figure: data in transit are not missing.
    assert channels["HHE"]["availability_pct"] == 100.0
    assert channels["HNZ"]["availability_pct"] is None  # never evaluated


def test_a_short_silence_counts_as_missing(client: TestClient, inventory: Session) -> None:
    # DOWN after 2 min (a short latency_down_s): 2 min of the 10-min window are missing.
    newest = datetime.now(UTC) - timedelta(minutes=2)
    _report(inventory, "HHZ", HealthState.DOWN, "no data for 120 s", newest)
    _evaluate(inventory, "SAREZ", HealthState.DOWN, "HHZ: no data for 120 s", newest)
    before = (datetime.now(UTC) - newest).total_seconds()
    availability = _channels(client)["HHZ"]["availability_pct"]
    after = (datetime.now(UTC) - newest).total_seconds()
    assert 100 - after / 6 <= availability <= 100 - before / 6


def test_a_stale_station_names_its_silent_channels_once(
    client: TestClient, inventory: Session
) -> None:
    now = datetime.now(UTC)
    for i, code in enumerate(("HHZ", "HHN", "HHE")):
        channel = channel_index(inventory)[ChannelKey("TJ", "MURGH", "", code)]
        newest = now - timedelta(minutes=15, seconds=10 * i)
        record_arrival(
            inventory, channel_id=channel.id, last_sample_time=newest, arrival_time=newest
        )
    murgh = client.get("/api/v1/stations/TJ.MURGH").json()
    assert murgh["stale"] is True
    assert murgh["state"] == "DOWN"
    assert re.search(r"from latency: HHE, HHN, HHZ: no data for 1[56] min$", murgh["reason"])
