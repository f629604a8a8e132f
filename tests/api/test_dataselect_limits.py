"""What one dataselect request may cost, without a key: its body, its lines and the archive
bytes it reads are bounded (413 with the FDSN document), day files are read a chunk at a
time, and windows at the ends of the calendar are answered, not a server error."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import obspy
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.fdsn.dataselect import CHUNK_BYTES
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory
from stations.queries import ChannelKey, add_archived_records
from stations.sds import sds_path

from .test_fdsn_dataselect import RECLEN, T0, Archive, _overlapping, _write_archive

QUERY = "/fdsnws/dataselect/1/query"
LINE = b"TJ SAREZ -- HHZ 2025-06-15T23:59:55 2025-06-16T00:00:05\n"


@pytest.fixture
def archive(fresh_database_url: str, tmp_path: Path) -> Archive:
    return _write_archive(tmp_path / "archive", fresh_database_url)


@pytest.fixture
def settings(archive: Archive, fresh_database_url: str) -> ApiSettings:
    return ApiSettings(
        database_url=fresh_database_url, archive_dir=str(archive.root), webhooks_enabled=False
    )


@pytest.fixture
def api(settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _limited(settings: ApiSettings, **limits: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)))


def _fdsn_error(answer: object, status: int, needle: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    text: str = answer.text  # type: ignore[attr-defined]
    assert text.startswith(f"Error {status}: "), text
    assert needle in text, text


def test_a_body_over_the_limit_is_refused(settings: ApiSettings) -> None:
    body = LINE * 100  # 5,600 bytes
    with _limited(settings, dataselect_max_body_bytes=4096) as api:
        _fdsn_error(api.post(QUERY, content=body), 413, "larger than 4096 bytes")
        assert api.post(QUERY, content=LINE * 70).status_code == 200


def test_more_lines_than_allowed_are_refused(settings: ApiSettings) -> None:
    with _limited(settings, dataselect_max_lines=3) as api:
        _fdsn_error(api.post(QUERY, content=LINE * 4), 413, "more than 3 lines")
        assert api.post(QUERY, content=b"quality=B\n" + LINE * 3).status_code == 200


def test_a_request_that_would_read_too_much_of_the_archive_is_refused(
    settings: ApiSettings, archive: Archive
) -> None:
    window = "start=2025-06-15T23:59:55&end=2025-06-16T00:00:05"
    hhz = [p for p in (archive.root).rglob("*.HHZ.*") if p.is_file()]
    committed = sum(len(r) for r in archive.records["HHZ"])
    assert committed < sum(p.stat().st_size for p in hhz)  # the crash's leftover is not counted
    with _limited(settings, dataselect_max_bytes=committed - 1) as api:
        _fdsn_error(api.get(f"{QUERY}?cha=HHZ&{window}"), 413, "MiB of the archive")
    with _limited(settings, dataselect_max_bytes=committed) as api:
        assert api.get(f"{QUERY}?cha=HHZ&{window}").status_code == 200


def test_a_channel_asked_twice_is_answered_once(api: TestClient, archive: Archive) -> None:
    once = api.post(QUERY, content=LINE)
    assert once.status_code == 200
    twice = api.post(QUERY, content=LINE + LINE.replace(b"23:59:55", b"23:59:57"))
    assert twice.content == once.content
    expected = _overlapping(
        archive.records["HHZ"],
        obspy.UTCDateTime("2025-06-15T23:59:55"),
        obspy.UTCDateTime("2025-06-16T00:00:05"),
    )
    assert once.content == b"".join(expected)


@pytest.mark.parametrize(
    "query",
    [
        "start=0001-01-01T00:00:00&end=0001-01-01T00:00:10",
        "start=0001-01-01T00:00:00%2B05:00&end=0001-01-02",
        "start=9999-12-31T23:59:50&end=9999-12-31T23:59:59.999999",
        "start=9999-12-31&end=9999-12-31T23:59:59.999999-05:00",
    ],
)
def test_windows_at_the_ends_of_the_calendar(api: TestClient, query: str) -> None:
    answer = api.get(f"{QUERY}?{query}")
    assert answer.status_code in (204, 400), answer.text
    assert answer.status_code == 204 or answer.text.startswith("Error 400: ")
    body = " ".join(
        f"TJ SAREZ -- HHZ {start} {end}"
        for start, end in [("0001-01-01T00:00:00", "0001-01-01T00:00:10")]
    )
    assert api.post(QUERY, content=body.encode()).status_code == 204
    late = b"* * * * 9999-12-31T12:00:00 9999-12-31T23:59:59.999999\n"
    assert api.post(QUERY, content=late).status_code == 204


def test_a_day_file_is_read_a_chunk_at_a_time(
    fresh_database_url: str, archive: Archive, settings: ApiSettings
) -> None:
    """A 16 MB day file, scanned for a window that holds nothing of it: the request's
    memory stays a small multiple of the chunk, not the file."""
    record = archive.records["HHZ"][0]
    key = ChannelKey("TJ", "MURGH", "", "HHZ")
    path = sds_path(key, T0.timestamp)
    big = archive.root / path
    big.parent.mkdir(parents=True, exist_ok=True)
    count = 16 * 2**20 // RECLEN
    big.write_bytes(record * count)
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as s, s.begin():
        add_archived_records(s, files={path: (len(record) * count, count)}, now=datetime.now(UTC))
    engine.dispose()
    window = "net=TJ&sta=MURGH&cha=HHZ&start=2025-06-15T12:00:00&end=2025-06-15T12:00:10"
    with TestClient(create_app(settings)) as api:
        tracemalloc.start()
        try:
            answer = api.get(f"{QUERY}?{window}")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.status_code == 204
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB for a {len(record) * count / 2**20} MiB file"
    assert CHUNK_BYTES <= 2**20


def test_the_answer_is_the_records_in_order(api: TestClient, archive: Archive) -> None:
    """Sent a chunk at a time, the answer is still every overlapping record, whole."""
    answer = api.get(f"{QUERY}?cha=HH?&start={T0 - 60}&end={T0 + 60}")
    assert answer.status_code == 200
    stream = obspy.read(io.BytesIO(answer.content))
    assert sorted({tr.id for tr in stream}) == ["TJ.SAREZ..HHE", "TJ.SAREZ..HHN", "TJ.SAREZ..HHZ"]
    expected = b"".join(
        b"".join(_overlapping(archive.records[c], T0 - 60, T0 + 60)) for c in ("HHE", "HHN", "HHZ")
    )
    assert len(answer.content) == len(expected)


@pytest.mark.parametrize("rate", [1e-300, float("inf"), 0.0, -1.0])
def test_a_rate_stored_before_rates_were_checked_breaks_nothing(
    fresh_database_url: str, settings: ApiSettings, archive: Archive, rate: float
) -> None:
    engine = make_engine(fresh_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE channel SET sampling_rate = :rate"), {"rate": rate})
    engine.dispose()
    with TestClient(create_app(settings)) as api:
        answer = api.get(f"{QUERY}?cha=HHZ&start={T0 + 1}&end={T0 + 2}")
        assert answer.status_code == 200
        assert answer.content == b"".join(_overlapping(archive.records["HHZ"], T0 + 1, T0 + 2))
        plot = api.get("/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=1")
        assert plot.status_code == 200
