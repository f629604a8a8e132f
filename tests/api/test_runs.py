"""``/api/v1/runs``, a run's detections and events (``?run=NAME``), and two runs compared:
runs stored as ``larza reprocess`` stores them, beside live rows they must not mix with."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stations.runs import (
    RunPick,
    RunQuake,
    create_run,
    finish_run,
    source_comment,
    store_catalogue,
    store_chunk,
)

T0 = datetime(2025, 6, 1, 23, 30, tzinfo=UTC).timestamp()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _pick(station: str, t: float, phase: str = "P") -> RunPick:
    return RunPick("TJ", station, "", "HHZ" if phase == "P" else "HHN", t - 0.1, t + 5, t, 9.5,
                   20.0, 1500.0, "default", phase, 0.02, "positive" if phase == "P" else None,
                   False)  # fmt: skip


SOURCES = {
    "default": ("sds", "/data/sds", "all"),
    "tuned": ("fdsn", "http://archive.example:8080", "given"),
}
"""Where the test's runs read their data (kind, path or URL, station selection)."""


def _store(session: Session, name: str, quake_times: list[float], config: str = "") -> None:
    picks: list[RunPick] = []
    quakes: list[RunQuake] = []
    for t in quake_times:
        first = len(picks)
        picks += [_pick("SAREZ", t), _pick("MURGH", t + 2.5), _pick("MANEM", t + 4.0)]
        quakes.append(
            RunQuake(
                t, ("TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"), 3.0, 4.0, (first, first + 1, first + 2)
            )
        )
    run = create_run(session, name=name, config=config, start=T0, end=T0 + 3600,
                     stations=["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"], chunk_s=600, chunks=18,
                     now=NOW, source_kind=SOURCES.get(name, ("sds",))[0],
                     source=SOURCES.get(name, ("sds", "/data/sds"))[1],
                     station_selection=SOURCES.get(name, ("sds", "", "given"))[2])  # fmt: skip
    store_catalogue(session, run_id=run.id, picks=picks, quakes=quakes)
    finish_run(session, run=run, status="finished", detections=len(picks), events=len(quakes),
               now=NOW)  # fmt: skip


@pytest.fixture
def two_runs(inventory: Session) -> Session:
    _store(inventory, "default", [T0 + 60, T0 + 350, T0 + 640])
    # a tuned profile: the first quake found 0.8 s later, the second missed, a new one
    _store(inventory, "tuned", [T0 + 60.8, T0 + 640, T0 + 930], config="[detector]\nsta = 0.5\n")
    return inventory


def test_runs_are_listed_with_their_config_span_and_counts(
    client: TestClient, two_runs: Session
) -> None:
    runs = client.get("/api/v1/runs").json()
    assert {r["name"] for r in runs} == {"default", "tuned"}
    tuned = next(r for r in runs if r["name"] == "tuned")
    assert tuned["config"] == "[detector]\nsta = 0.5\n"
    assert tuned["status"] == "finished"
    assert (tuned["detections"], tuned["events"], tuned["chunks"]) == (9, 3, 18)
    assert tuned["start"].startswith("2025-06-01T23:30:00")
    assert tuned["stations"] == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    default = next(r for r in runs if r["name"] == "default")
    assert tuned["config_digest"] == hashlib.sha256(b"[detector]\nsta = 0.5\n").hexdigest()[:12]
    # where the data came from, and how the stations were chosen
    assert (tuned["source_kind"], tuned["source"]) == ("fdsn", "http://archive.example:8080")
    assert tuned["station_selection"] == "given"
    assert (default["source_kind"], default["source"]) == ("sds", "/data/sds")
    assert default["station_selection"] == "all"
    assert tuned["chunks_empty"] == 0
    assert default["config_digest"] != tuned["config_digest"]
    for page in ("/runs", "/runs/tuned", "/runs/a%20run%20with%20spaces"):  # the dashboard's
        answer = client.get(page)
        assert answer.status_code == 200
        assert '<script src="/static/app.js"' in answer.text


def test_a_runs_detections_and_events_never_mix_with_the_live_ones(
    client: TestClient, two_runs: Session
) -> None:
    assert client.get("/api/v1/detections").json()["items"] == []  # live: none
    assert client.get("/api/v1/events").json()["items"] == []
    page = client.get("/api/v1/detections", params={"run": "default", "limit": 4}).json()
    assert [d["stream"] for d in page["items"]] == [
        "TJ.SAREZ..HHZ", "TJ.MURGH..HHZ", "TJ.MANEM..HHZ", "TJ.SAREZ..HHZ",
    ]  # fmt: skip
    rest = client.get(page["next"]).json()
    last = client.get(rest["next"]).json()
    ids = [d["id"] for d in page["items"] + rest["items"] + last["items"]]
    assert len(ids) == 9
    assert ids == sorted(ids)
    events = client.get("/api/v1/events", params={"run": "tuned"}).json()["items"]
    assert [len(e["detections"]) for e in events] == [3, 3, 3]
    assert events[0]["status"] == "final"
    assert events[0]["stations"] == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    assert [d["station"] for d in events[0]["detections"]] == ["SAREZ", "MURGH", "MANEM"]
    window = client.get(
        "/api/v1/events",
        params={"run": "tuned", "start": "2025-06-01T23:44:00Z", "end": "2025-06-01T23:50:00Z"},
    ).json()["items"]
    assert len(window) == 1
    missing = client.get("/api/v1/events", params={"run": "nope"})
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


def test_a_runs_chunks_with_no_data_are_counted_apart_from_failed_ones(
    client: TestClient, inventory: Session
) -> None:
    run = create_run(inventory, name="gaps", config="", start=T0, end=T0 + 3600,
                     stations=["TJ.SAREZ"], chunk_s=600, chunks=6, now=NOW)  # fmt: skip
    outcomes = [(True, False), (True, True), (False, False), (True, True), (True, False)]
    for k, (ok, empty) in enumerate(outcomes):
        store_chunk(inventory, run_id=run.id, name=f"c{k}", ok=ok, result="{}", now=NOW,
                    empty=empty)  # fmt: skip
    store_chunk(inventory, run_id=run.id, name="c1", ok=True, result="{}", now=NOW)  # again
    (got,) = client.get("/api/v1/runs").json()
    assert (got["chunks_done"], got["chunks_failed"], got["chunks_empty"]) == (4, 1, 1)
    assert (got["source_kind"], got["source"], got["station_selection"]) == (None, None, None)
    inventory.refresh(run)
    assert "a source not recorded" in source_comment(run)


def test_two_runs_compared(client: TestClient, two_runs: Session) -> None:
    found = client.get("/api/v1/runs/compare", params={"a": "default", "b": "tuned"}).json()
    assert [round(m["seconds"], 3) for m in found["matched"]] == [0.8, 0.0]
    assert [e["time"][11:19] for e in found["only_a"]] == ["23:35:50"]
    assert [e["time"][11:19] for e in found["only_b"]] == ["23:45:30"]
    strict = client.get(
        "/api/v1/runs/compare", params={"a": "default", "b": "tuned", "tolerance": 0.5}
    ).json()
    assert (len(strict["matched"]), len(strict["only_a"]), len(strict["only_b"])) == (1, 2, 2)
    assert client.get("/api/v1/runs/compare", params={"a": "default", "b": "x"}).status_code == 404


def test_fdsn_event_serves_a_run_as_a_catalog(client: TestClient, two_runs: Session) -> None:
    from io import BytesIO

    from obspy import read_events

    listed = client.get("/fdsnws/event/1/catalogs").text
    assert "<Catalog>Larza</Catalog>" in listed
    assert "<Catalog>tuned</Catalog>" in listed
    text = client.get(
        "/fdsnws/event/1/query",
        params={"catalog": "tuned", "format": "text", "orderby": "time-asc"},
    ).text.splitlines()
    assert len(text) == 4  # the header and three events
    assert text[1].split("|")[1].startswith("2025-06-01T23:31:00.8")
    xml = client.get("/fdsnws/event/1/query", params={"catalog": "default", "limit": 2})
    catalog = read_events(BytesIO(xml.content))
    assert len(catalog) == 2
    assert len(catalog[0].picks) == 3
    assert [c.text for c in catalog.comments] == [
        "larza reprocess run default: waveforms from the SDS archive /data/sds; stations "
        "TJ.MANEM, TJ.MURGH, TJ.SAREZ (every station the source had over the span); "
        "2025-06-01T23:30:00Z .. 2025-06-02T00:30:00Z; settings "
        + hashlib.sha256(b"").hexdigest()[:12]
    ]
    assert "/run/default/" in str(catalog[0].resource_id)
    live = client.get("/fdsnws/event/1/query")
    assert live.status_code == 204  # the live catalogue is empty: runs never mix into it
    assert client.get("/fdsnws/event/1/query", params={"catalog": "nope"}).status_code == 204
    placed = client.get("/fdsnws/event/1/query", params={"catalog": "tuned", "minlatitude": 30})
    assert placed.status_code == 400


def _csv(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_a_runs_events_and_detections_download_as_the_live_ones_do(
    client: TestClient, two_runs: Session
) -> None:
    """CSV and QuakeML of ``/api/v1/events?run=NAME``, CSV of its detections: the live
    catalogue's formats, columns and paging, the run's own rows."""
    from io import BytesIO

    from obspy import read_events

    live_header = client.get("/api/v1/events", params={"format": "csv"}).text.splitlines()[0]
    answer = client.get("/api/v1/events", params={"run": "tuned", "format": "csv", "limit": 2})
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == live_header
    rows = _csv(answer.text)
    json_items = client.get("/api/v1/events", params={"run": "tuned", "limit": 2}).json()["items"]
    assert [int(r["id"]) for r in rows] == [e["id"] for e in json_items]
    assert [r["stations"] for r in rows] == ["TJ.MANEM TJ.MURGH TJ.SAREZ"] * 2
    assert rows[0]["detections"] == " ".join(str(d["id"]) for d in json_items[0]["detections"])
    assert rows[0]["time"].startswith("2025-06-01T23:31:00.8")
    rest = client.get(answer.headers["link"].split(">")[0][1:])
    assert [r["time"][11:19] for r in _csv(rest.text)] == ["23:45:30"]

    xml = client.get("/api/v1/events", params={"run": "tuned", "format": "quakeml"})
    assert xml.headers["content-type"].startswith("application/xml")
    catalog = read_events(BytesIO(xml.content))
    assert [len(e.picks) for e in catalog] == [3, 3, 3]
    assert str(catalog[0].resource_id) == f"smi:larza/run/tuned/event/{json_items[0]['id']}"
    assert {p.waveform_id.station_code for p in catalog[0].picks} == {"SAREZ", "MURGH", "MANEM"}
    (said,) = catalog.comments  # where the run's data came from
    assert "from the FDSN dataselect service http://archive.example:8080;" in said.text
    assert "(named with --stations)" in said.text
    assert str(said.resource_id) == "smi:larza/run/tuned/comment/source"
    # the same document as the FDSN event service's catalog=tuned
    fdsn = client.get(
        "/fdsnws/event/1/query",
        params={"catalog": "tuned", "orderby": "time-asc", "includearrivals": "true"},
    ).content
    assert xml.content == fdsn
    first = client.get("/api/v1/events", params={"run": "tuned", "format": "quakeml", "limit": 1})
    assert len(read_events(BytesIO(first.content))) == 1
    assert "after=" in first.headers["link"]

    live_picks = client.get("/api/v1/detections", params={"format": "csv"}).text.splitlines()[0]
    picks = client.get("/api/v1/detections", params={"run": "default", "format": "csv"})
    assert picks.text.splitlines()[0] == live_picks
    got = _csv(picks.text)
    assert len(got) == 9
    assert [r["stream"] for r in got[:3]] == ["TJ.SAREZ..HHZ", "TJ.MURGH..HHZ", "TJ.MANEM..HHZ"]
    assert {r["phase"] for r in got} == {"P"}
    assert client.get("/api/v1/events", params={"run": "nope", "format": "csv"}).status_code == 404
