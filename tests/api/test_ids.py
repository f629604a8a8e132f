"""Ids are 64-bit on every database: rows numbered past 2**31 are stored and served, and the
API answers ids up to 2**63 - 1 without a server error (a larger one is a 422)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.settings import ApiSettings
from stations.changes import log_changes
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ChangeKind, Detection, EventStatus
from stations.queries import ChannelKey, channel_index, store_detection, store_event
from stations.webhooks import pending_changes

MAX_ID = 2**63 - 1
PAST_INT32 = 2**31 + 10


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/2147483648",
        f"/api/v1/events/{MAX_ID}",
        f"/api/v1/detections/{MAX_ID}/waveforms.mseed",
        f"/api/v1/events/{MAX_ID}/waveforms.mseed",
    ],
)
def test_an_id_past_32_bits_is_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/detections?after=2147483648",
        f"/api/v1/events?after={MAX_ID}",
        f"/api/v1/state-changes?after={MAX_ID}",
        f"/api/v1/stations/TJ.SAREZ/history?after={MAX_ID}",
        f"/api/v1/channels/TJ.SAREZ..HHZ/health?after={MAX_ID}",
    ],
)
def test_a_cursor_past_32_bits_is_an_empty_page(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/api/v1/events/{MAX_ID + 1}", {}),
        (f"/api/v1/detections?after={MAX_ID + 1}", {}),
        (f"/api/v1/stream?last_event_id={MAX_ID + 1}", {}),
        ("/api/v1/stream", {"Last-Event-ID": str(MAX_ID + 1)}),
        ("/api/v1/stream", {"Last-Event-ID": "1" + "0" * 30}),
    ],
)
def test_an_id_past_64_bits_is_refused(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    assert client.get(path, headers=headers).status_code == 422


def test_the_change_log_reads_after_a_64_bit_cursor(inventory: Session) -> None:
    page = pending_changes(inventory, after_id=MAX_ID)
    assert list(page.changes) == []
    assert page.cursor == MAX_ID


@pytest.fixture
def numbered_far(fresh_database_url: str) -> Iterator[Engine]:
    """A database whose detections, events and change log are numbered past 2**31."""
    engine = make_engine(fresh_database_url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("detection", "event", "change_log"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                connection.execute(text(f"SELECT setval({sequence}, {PAST_INT32})"))
    else:
        _sqlite_far_rows(engine)
    yield engine
    engine.dispose()


def _sqlite_far_rows(engine: Engine) -> None:
    """A detection at ``PAST_INT32``: SQLite gives the next row the id after it."""
    with make_session_factory(engine)() as s, s.begin():
        channel = channel_index(s)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
        t = datetime(2025, 1, 1, tzinfo=UTC)
        s.add(
            Detection(
                id=PAST_INT32,
                channel_id=channel.id,
                on_time=t,
                off_time=t,
                onset_time=t,
                peak_ratio=1.0,
                snr=None,
                peak_amplitude=1.0,
                profile="placeholder",
                created_at=t,
            )
        )


def test_rows_numbered_past_32_bits_are_stored_and_served(numbered_far: Engine) -> None:
    now = datetime.now(UTC)
    with make_session_factory(numbered_far)() as s, s.begin():
        channel = channel_index(s)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
        detection = store_detection(
            s,
            channel_id=channel.id,
            on_time=now - timedelta(minutes=2),
            off_time=now - timedelta(minutes=1),
            onset_time=now - timedelta(minutes=2),
            peak_ratio=5.0,
            snr=9.0,
            peak_amplitude=800.0,
            profile="default",
            now=now,
        )
        event = store_event(
            s,
            event_id=None,
            time=now - timedelta(minutes=2),
            status=EventStatus.PRELIMINARY,
            n_stations=1,
            coincidence_sum=1.0,
            duration=60.0,
            detection_ids=[detection.id],
            now=now,
        )
        logged = log_changes(
            s,
            changes=[(ChangeKind.DETECTION, detection.id), (ChangeKind.EVENT, event.id)],
            now=now,
        )
    assert detection.id > 2**31
    assert event.id > 2**31 or numbered_far.dialect.name == "sqlite"
    assert logged[0].id > 2**31 or numbered_far.dialect.name == "sqlite"
    app = create_app(
        ApiSettings(
            database_url=numbered_far.url.render_as_string(hide_password=False),
            webhooks_enabled=False,
        )
    )
    with TestClient(app) as api:
        assert api.get(f"/api/v1/events/{event.id}").json()["detections"][0]["id"] == detection.id
        page = api.get(f"/api/v1/detections?after={detection.id - 1}").json()
        assert [d["id"] for d in page["items"]] == [detection.id]
        assert api.get(f"/api/v1/detections/{detection.id}/waveforms.mseed").status_code == 204
