"""Downloads, tried as a researcher would: detections and events as CSV, events as QuakeML
(read back with ObsPy), and miniSEED around a detection or an event from the archive the
worker wrote, record for record as archived."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import obspy
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import ApiSettings
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from stations.queries import list_detections, list_events

from ..ingest.test_pipeline import ONSETS, _interleaved, factory  # noqa: F401


@pytest.fixture
def served(
    factory: sessionmaker[Session],  # noqa: F811
    fresh_database_url: str,
    tmp_path: Path,
) -> Iterator[tuple[TestClient, Path, list[bytes]]]:
    """A live pipeline run over a three-station quake (archive on), then the API over it."""
    pipeline = Pipeline(
        factory,
        server="test:18000",
        archive=SdsArchive(tmp_path / "sds"),
        clock=lambda: datetime(2025, 6, 1, 12, 1, 40, tzinfo=UTC),
    )
    packets = _interleaved(np.random.default_rng(3))
    for i in range(0, len(packets), 50):
        pipeline.handle_many(packets[i : i + 50])
    settings = ApiSettings(
        database_url=fresh_database_url, archive_dir=str(tmp_path / "sds"), webhooks_enabled=False
    )
    with TestClient(create_app(settings)) as client:
        yield client, tmp_path / "sds", [p.payload for p in packets]


def test_detections_and_events_as_csv(
    served: tuple[TestClient, Path, list[bytes]],
    factory: sessionmaker[Session],  # noqa: F811
) -> None:
    client, _, _ = served
    page = client.get("/api/v1/detections", params={"format": "csv", "limit": 2})
    assert page.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(page.text)))
    assert len(rows) == 2
    assert rows[0]["stream"].startswith("TJ.")
    assert float(rows[0]["peak_physical"]) > 0
    assert 'rel="next"' in page.headers["link"]
    rest = client.get(page.headers["link"].split(">")[0].strip("<"))
    assert len(list(csv.DictReader(io.StringIO(rest.text)))) == len(ONSETS) - 2
    events = list(csv.DictReader(io.StringIO(client.get("/api/v1/events?format=csv").text)))
    with factory() as s:
        stored = list_events(s)
    assert [int(e["id"]) for e in events] == [e.id for e in stored]
    assert events[0]["stations"] == "TJ.MANEM TJ.MURGH TJ.SAREZ"
    assert len(events[0]["detections"].split()) == len(ONSETS)


def test_events_as_quakeml(served: tuple[TestClient, Path, list[bytes]]) -> None:
    client, _, _ = served
    response = client.get("/api/v1/events", params={"format": "quakeml"})
    catalog = obspy.read_events(io.BytesIO(response.content))
    assert len(catalog) == 1
    assert {p.waveform_id.station_code for p in catalog[0].picks} == set(ONSETS)
    bad = client.get("/api/v1/events", params={"format": "sac"})
    assert bad.status_code == 422
    assert "format" in bad.text


def test_miniseed_around_a_detection_and_an_event(
    served: tuple[TestClient, Path, list[bytes]],
    factory: sessionmaker[Session],  # noqa: F811
) -> None:
    client, _, sent = served
    with factory() as s:
        detection = next(d for d in list_detections(s) if d.channel.station.code == "SAREZ")
        event = list_events(s)[0]
    got = client.get(
        f"/api/v1/detections/{detection.id}/waveforms.mseed", params={"before": 5, "after": 5}
    )
    assert got.headers["content-type"] == "application/vnd.fdsn.mseed"
    assert len(got.content) % 512 == 0
    records = {got.content[i : i + 512] for i in range(0, len(got.content), 512)}
    assert records <= set(sent)  # byte for byte as received
    stream = obspy.read(io.BytesIO(got.content))
    assert {tr.id for tr in stream} == {"TJ.SAREZ..HHZ"}
    onset = obspy.UTCDateTime(detection.onset_time)
    assert stream[0].stats.starttime <= onset - 5
    assert stream[-1].stats.endtime >= obspy.UTCDateTime(detection.off_time)
    whole = client.get(f"/api/v1/events/{event.id}/waveforms.mseed", params={"before": 2})
    ids = {tr.id for tr in obspy.read(io.BytesIO(whole.content))}
    assert ids == {f"TJ.{s}..HHZ" for s in ONSETS}  # the archive holds HHZ only here
    assert client.get("/api/v1/events/999/waveforms.mseed").status_code == 404
    assert client.get(f"/api/v1/events/{event.id}/waveforms.mseed?before=-1").status_code == 422
    nothing = client.get(f"/api/v1/detections/{detection.id}/waveforms.mseed?before=600")
    assert nothing.status_code == 200  # the window reaches before the data: what there is
