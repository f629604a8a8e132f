"""The first API slice: stations with latency, detections and events with cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stations.models import EventStatus
from stations.queries import ChannelKey, channel_index, record_arrival, store_detection, store_event

NOW = datetime.now(UTC)


def _detect(session: Session, key: ChannelKey, onset: datetime, snr: float = 10.0) -> int:
    channel = channel_index(session)[key]
    d = store_detection(
        session,
        channel_id=channel.id,
        on_time=onset + timedelta(seconds=0.3),
        off_time=onset + timedelta(seconds=8),
        onset_time=onset,
        peak_ratio=12.0,
        snr=snr,
        peak_amplitude=5000.0,
        profile="default",
        now=NOW,
    )
    return d.id


def test_station_list_shows_latency_and_state(client: TestClient, inventory: Session) -> None:
    now = datetime.now(UTC)  # when it runs: the states depend on the clock
    index = channel_index(inventory)
    for code in ("HHZ", "HHN", "HHE", "HNZ", "HNN", "HNE"):
        record_arrival(
            inventory,
            channel_id=index[ChannelKey("TJ", "SAREZ", "", code)].id,
            last_sample_time=now - timedelta(seconds=3),
            arrival_time=now - timedelta(seconds=1),
        )
    record_arrival(
        inventory,
        channel_id=index[ChannelKey("TJ", "MURGH", "", "HHZ")].id,
        last_sample_time=now - timedelta(minutes=15),
        arrival_time=now - timedelta(minutes=15),
    )
    response = client.get("/api/v1/stations")
    assert response.status_code == 200
    body = {s["id"]: s for s in response.json()}
    assert sorted(body) == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    sarez = body["TJ.SAREZ"]
    assert sarez["state"] == "OK"
    assert 2.5 < sarez["data_latency_s"] < 30
    hhz = next(c for c in sarez["channels"] if c["code"] == "HHZ")
    assert hhz["id"] == "TJ.SAREZ..HHZ"
    assert hhz["kind"] == "seismometer"
    assert hhz["records"] == 1
    murgh = body["TJ.MURGH"]
    assert murgh["state"] == "DOWN"
    assert "HHZ: no data for 15 min" in murgh["reason"]
    assert body["TJ.MANEM"]["state"] == "UNKNOWN"
    assert body["TJ.MANEM"]["data_latency_s"] is None


def test_one_station_and_an_unknown_one(client: TestClient) -> None:
    assert client.get("/api/v1/stations/TJ.SAREZ").json()["code"] == "SAREZ"
    assert client.get("/api/v1/stations/tj.sarez").status_code == 200
    missing = client.get("/api/v1/stations/TJ.NOWHERE")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no station 'TJ.NOWHERE'"
    malformed = client.get("/api/v1/stations/SAREZ")
    assert malformed.status_code == 422
    assert "station_id" in malformed.text


def test_detections_filter_and_cursor(client: TestClient, inventory: Session) -> None:
    t0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    ids = [
        _detect(inventory, ChannelKey("TJ", sta, "", "HHZ"), t0 + timedelta(seconds=i), snr=5.0 + i)
        for i, sta in enumerate(["SAREZ", "MURGH", "MANEM", "SAREZ"])
    ]
    page = client.get("/api/v1/detections", params={"limit": 2}).json()
    assert [d["id"] for d in page["items"]] == ids[:2]
    assert page["items"][0]["stream"] == "TJ.SAREZ..HHZ"
    # Counts and, from the response's sensitivity (about 3e8 counts per m/s), ground velocity.
    first = page["items"][0]
    hhz = channel_index(inventory)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
    assert hhz.sensitivity is not None
    assert first["peak_physical"] == pytest.approx(5000.0 / hhz.sensitivity)
    assert first["physical_unit"] == hhz.sensitivity_unit == "M/S"  # as the StationXML says
    rest = client.get(page["next"]).json()
    assert [d["id"] for d in rest["items"]] == ids[2:]
    after_last = client.get(rest["next"]).json()
    assert after_last == {"items": [], "next": None}

    sarez = client.get("/api/v1/detections", params={"station": "TJ.SAREZ"}).json()["items"]
    assert [d["id"] for d in sarez] == [ids[0], ids[3]]
    strong = client.get("/api/v1/detections", params={"min_snr": 7}).json()["items"]
    assert [d["id"] for d in strong] == ids[2:]
    window = client.get(
        "/api/v1/detections",
        params={"start": "2025-06-01T12:00:01", "end": "2025-06-01T12:00:03"},
    ).json()["items"]
    assert [d["id"] for d in window] == ids[1:3]


@pytest.mark.parametrize("station", ["NOWHERE", "TJ.NOWHERE", "XX.SAREZ"])
def test_detections_of_unknown_station_is_404(client: TestClient, station: str) -> None:
    response = client.get("/api/v1/detections", params={"station": station})
    assert response.status_code == 404
    assert "no station" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"start": "yesterday"}, "start"),
        ({"limit": 0}, "limit"),
        ({"min_snr": "high"}, "min_snr"),
        ({"station": "TJ.SAREZ.HHZ"}, "station"),
    ],
)
def test_malformed_query_names_the_parameter(
    client: TestClient, params: dict[str, object], name: str
) -> None:
    response = client.get("/api/v1/detections", params=params)
    assert response.status_code == 422
    assert name in response.text


def test_limits_and_reversed_windows_are_refused(client: TestClient) -> None:
    too_many = client.get("/api/v1/detections", params={"limit": 100_000})
    assert too_many.status_code == 400
    assert "limit must be at most 1000" in too_many.json()["detail"]
    backwards = client.get(
        "/api/v1/events", params={"start": "2025-06-02T00:00:00", "end": "2025-06-01T00:00:00"}
    )
    assert backwards.status_code == 400
    assert "end must be after start" in backwards.json()["detail"]


def test_events_with_their_detections(client: TestClient, inventory: Session) -> None:
    t0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    ids = [
        _detect(inventory, ChannelKey("TJ", sta, "", "HHZ"), t0 + timedelta(seconds=dt))
        for sta, dt in [("SAREZ", 0.0), ("MANEM", 14.0), ("MURGH", 18.5)]
    ]
    event = store_event(
        inventory,
        event_id=None,
        time=t0,
        status=EventStatus.PRELIMINARY,
        n_stations=3,
        coincidence_sum=3.0,
        duration=18.5,
        detection_ids=ids,
        now=NOW,
    )
    page = client.get("/api/v1/events").json()
    assert len(page["items"]) == 1
    got = page["items"][0]
    assert got["id"] == event.id
    assert got["stations"] == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    assert [d["station"] for d in got["detections"]] == ["SAREZ", "MANEM", "MURGH"]
    assert client.get(f"/api/v1/events/{event.id}").json()["n_stations"] == 3
    assert client.get("/api/v1/events/999999").status_code == 404
    assert client.get("/api/v1/events", params={"min_stations": 4}).json()["items"] == []
    assert client.get("/api/v1/events", params={"status": "final"}).json()["items"] == []
    assert client.get("/api/v1/events", params={"status": "bogus"}).status_code == 422


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/stations",
        "/api/v1/stations/{station_id}",
        "/api/v1/detections",
        "/api/v1/events",
    ):
        assert path in paths
    assert client.get("/healthz").json() == {"status": "ok"}


def test_unchanged_lists_answer_304(client: TestClient, inventory: Session) -> None:
    t0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    _detect(inventory, ChannelKey("TJ", "SAREZ", "", "HHZ"), t0)
    first = client.get("/api/v1/detections")
    tag = first.headers["etag"]
    again = client.get("/api/v1/detections", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    _detect(inventory, ChannelKey("TJ", "MURGH", "", "HHZ"), t0)
    changed = client.get("/api/v1/detections", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert len(changed.json()["items"]) == 2
    events = client.get("/api/v1/events")
    assert (
        client.get("/api/v1/events", headers={"If-None-Match": events.headers["etag"]}).status_code
        == 304
    )


def test_prometheus_metrics(client: TestClient, inventory: Session) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    index = channel_index(inventory)
    sarez_hhz = index[ChannelKey("TJ", "SAREZ", "", "HHZ")]
    now = datetime.now(UTC)  # not the module's NOW: a long suite may import it minutes before
    record_arrival(
        inventory,
        channel_id=sarez_hhz.id,
        last_sample_time=now - timedelta(seconds=2),
        arrival_time=now,
        count=7,
    )
    _detect(inventory, ChannelKey("TJ", "SAREZ", "", "HHZ"), now)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    stream = (("stream", "TJ.SAREZ..HHZ"),)
    assert samples[("larza_channel_records_total", stream)] == 7
    assert samples[("larza_channel_detections_total", stream)] == 1
    assert 2 <= samples[("larza_channel_data_latency_seconds", stream)] < 30
    assert samples[("larza_station_state", (("state", "UNKNOWN"), ("station", "TJ.MANEM")))] == 1
    assert samples[("larza_station_state", (("state", "OK"), ("station", "TJ.MANEM")))] == 0


@pytest.mark.parametrize(
    "path",
    ["/api/v1/state-changes", "/api/v1/detections", "/api/v1/events"],
)
def test_a_time_out_of_range_is_a_400_naming_it(client: TestClient, path: str) -> None:
    # Found by the schemathesis fuzz run: an offset that takes year 1 below year 1.
    response = client.get(path, params={"end": "0001-01-01T00:00:00+00:01"})
    assert response.status_code == 400
    assert "end is out of range" in response.text
    fdsn = client.get("/fdsnws/event/1/query", params={"starttime": "0001-01-01T00:00:00+00:01"})
    assert fdsn.status_code == 400
    assert "starttime" in fdsn.text


def test_detections_carry_their_pick_and_filter_by_phase(
    client: TestClient, inventory: Session
) -> None:
    index = channel_index(inventory)
    onset = NOW - timedelta(minutes=5)
    made = {}
    for code, phase, error, motion, bridged in (
        ("HHZ", "P", 0.02, "positive", False),
        ("HHN", "S", 0.06, None, True),
        ("HNZ", None, 0.05, "undecidable", False),
    ):
        made[code] = store_detection(
            inventory,
            channel_id=index[ChannelKey("TJ", "SAREZ", "", code)].id,
            on_time=onset,
            off_time=onset + timedelta(seconds=5),
            onset_time=onset,
            peak_ratio=9.0,
            snr=30.0,
            peak_amplitude=4000.0,
            profile="default",
            now=NOW,
            phase=phase,
            onset_uncertainty=error,
            polarity=motion,
            bridged=bridged,
        ).id
    items = client.get("/api/v1/detections").json()["items"]
    by_channel = {d["channel"]: d for d in items}
    assert {k: by_channel[k]["phase"] for k in made} == {"HHZ": "P", "HHN": "S", "HNZ": None}
    assert by_channel["HHZ"]["onset_uncertainty"] == 0.02
    assert by_channel["HHZ"]["polarity"] == "positive"
    assert by_channel["HHN"]["polarity"] is None
    assert by_channel["HHN"]["bridged"] is True
    for phase, expected in (("P", ["HHZ"]), ("S", ["HHN"]), ("none", ["HNZ"])):
        page = client.get("/api/v1/detections", params={"phase": phase}).json()["items"]
        assert [d["channel"] for d in page] == expected
    assert client.get("/api/v1/detections", params={"phase": "Pn"}).status_code == 422
    text = client.get("/api/v1/detections", params={"format": "csv", "phase": "S"}).text
    header, row = text.splitlines()[:2]
    columns = header.split(",")
    assert columns[5:9] == ["phase", "onset_uncertainty", "polarity", "bridged"]
    assert row.split(",")[5:9] == ["S", "0.06", "", "True"]
