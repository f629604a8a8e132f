"""``/api/v1/gaps`` and the gap counters of ``/metrics``, tried as an operator's script would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stations.gaps import NewGap, add_gaps, fill_gaps

T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _gap(station: str, channel: str, start: float, end: float, cause: str = "resume") -> NewGap:
    return NewGap(
        "TJ",
        station,
        "",
        channel,
        T + timedelta(seconds=start),
        T + timedelta(seconds=end),
        100.0,
        cause,
    )


def test_gaps_are_listed_with_a_cursor_and_filtered(client: TestClient, inventory: Session) -> None:
    add_gaps(
        inventory,
        gaps=[
            _gap("SAREZ", "HHZ", 0.0, 85.01),
            _gap("MURGH", "HNZ", 10.0, 12.0, "stream"),
            _gap("SAREZ", "HHN", 0.0, 85.01),
        ],
        now=T,
    )
    page = client.get("/api/v1/gaps", params={"limit": 2}).json()
    assert [g["stream"] for g in page["items"]] == ["TJ.SAREZ..HHZ", "TJ.MURGH..HNZ"]
    first = page["items"][0]
    assert first["seconds"] == 85.0
    assert first["cause"] == "resume"
    assert first["start"].startswith("2026-11-30T12:00:00")
    rest = client.get(page["next"]).json()
    assert [g["stream"] for g in rest["items"]] == ["TJ.SAREZ..HHN"]
    sarez = client.get("/api/v1/gaps", params={"station": "TJ.SAREZ"}).json()["items"]
    assert {g["channel"] for g in sarez} == {"HHZ", "HHN"}
    later = client.get("/api/v1/gaps", params={"since": "2026-11-30T12:01:00"}).json()["items"]
    assert {g["stream"] for g in later} == {"TJ.SAREZ..HHZ", "TJ.SAREZ..HHN"}
    assert client.get("/api/v1/gaps", params={"station": "../x"}).status_code in (400, 422)


def test_a_late_record_shrinks_splits_or_removes_a_gap(inventory: Session) -> None:
    from stations.gaps import list_gaps

    add_gaps(inventory, gaps=[_gap("SAREZ", "HHZ", 0.0, 100.0)], now=T)
    codes = ("TJ", "SAREZ", "", "HHZ")
    # a record in the middle: two gaps remain
    fill_gaps(
        inventory,
        codes=codes,
        start=T + timedelta(seconds=40),
        end=T + timedelta(seconds=50),
        sampling_rate=100.0,
    )
    spans = sorted(
        ((g.start - T).total_seconds(), (g.end - T).total_seconds()) for g in list_gaps(inventory)
    )
    assert spans == [(0.0, 40.0), (50.0, 100.0)]
    # one at the start of the second: it shrinks
    fill_gaps(
        inventory,
        codes=codes,
        start=T + timedelta(seconds=50.01),
        end=T + timedelta(seconds=60),
        sampling_rate=100.0,
    )
    spans = sorted(
        ((g.start - T).total_seconds(), (g.end - T).total_seconds()) for g in list_gaps(inventory)
    )
    assert spans == [(0.0, 40.0), (60.0, 100.0)]
    # one filling the first exactly: it goes
    fill_gaps(
        inventory,
        codes=codes,
        start=T + timedelta(seconds=0.01),
        end=T + timedelta(seconds=39.99),
        sampling_rate=100.0,
    )
    assert [((g.start - T).total_seconds(), g.seconds) for g in list_gaps(inventory)] == [
        (60.0, 39.99)
    ]


def test_metrics_count_gaps_per_stream(client: TestClient, inventory: Session) -> None:
    add_gaps(
        inventory,
        gaps=[_gap("SAREZ", "HHZ", 0.0, 85.01), _gap("SAREZ", "HHZ", 200.0, 210.01)],
        now=T,
    )
    text = client.get("/metrics").text
    assert 'larza_channel_gaps_total{stream="TJ.SAREZ..HHZ"} 2.0' in text
    assert 'larza_channel_gap_seconds_total{stream="TJ.SAREZ..HHZ"} 95.0' in text
