"""The FDSN dataselect service over an SDS archive, used by ObsPy's own FDSN client against a
real server on loopback, as a researcher would.

The archive holds ObsPy's example data (three 30 s channels), renamed to TJ.SAREZ..HH? and
moved to end 20 s after a midnight, in 512-byte records as the worker writes them: each
record in the day file of its start.
"""

from __future__ import annotations

import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import obspy
import pytest
import uvicorn
from numpy.testing import assert_array_equal
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNNoDataException
from pymseed import MS3Record

from api.app import create_app
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.queries import ChannelKey, add_archived_records
from stations.sds import sds_path

from ..conftest import free_port

T0 = UTCDateTime(2025, 6, 15, 23, 59, 50)
MIDNIGHT = UTCDateTime(2025, 6, 16)
RECLEN = 512
LEFTOVER_VALUE = 12345.0


@dataclass(frozen=True)
class Archive:
    root: Path
    source: dict[str, obspy.Trace]  # by channel code
    records: dict[str, list[bytes]]  # committed records by channel code, in file order
    leftover_path: str  # the day file with uncommitted bytes after its committed size


def _records(trace: obspy.Trace) -> list[bytes]:
    buf = io.BytesIO()
    trace.write(buf, format="MSEED", reclen=RECLEN)
    data = buf.getvalue()
    return [data[i : i + RECLEN] for i in range(0, len(data), RECLEN)]


def _start(record: bytes) -> float:
    return float(MS3Record.parse(record).starttime_seconds)


def _write_archive(root: Path, url: str) -> Archive:
    """The SDS files and their committed sizes; one file gets a crash's leftover record."""
    source: dict[str, obspy.Trace] = {}
    records: dict[str, list[bytes]] = {}
    files: dict[str, bytearray] = {}
    for trace, code in zip(obspy.read(), ("HHZ", "HHN", "HHE"), strict=True):
        trace.stats.network, trace.stats.station, trace.stats.channel = "TJ", "SAREZ", code
        trace.stats.starttime = T0
        source[code] = trace
        records[code] = _records(trace)
        key = ChannelKey("TJ", "SAREZ", "", code)
        for record in records[code]:
            files.setdefault(sds_path(key, _start(record)), bytearray()).extend(record)
    sizes = {path: (len(data), len(data) // RECLEN) for path, data in files.items()}
    # written after the last commit: inside any window that reaches past the data's end
    after = source["HHZ"].copy()
    after.data = np.full(56, LEFTOVER_VALUE)
    after.stats.starttime = source["HHZ"].stats.endtime + after.stats.delta
    leftover_path = sds_path(ChannelKey("TJ", "SAREZ", "", "HHZ"), after.stats.starttime.timestamp)
    files[leftover_path].extend(_records(after)[0])
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(bytes(data))
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        add_archived_records(s, files=sizes, now=datetime(2025, 6, 16, tzinfo=UTC))
    engine.dispose()
    return Archive(root, source, records, leftover_path)


@contextmanager
def serving(settings: ApiSettings) -> Iterator[str]:
    """The API on a loopback port, in a thread, for as long as the block runs."""
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def archive(fresh_database_url: str, tmp_path: Path) -> Archive:
    return _write_archive(tmp_path / "archive", fresh_database_url)


@pytest.fixture
def base_url(archive: Archive, fresh_database_url: str) -> Iterator[str]:
    settings = ApiSettings(database_url=fresh_database_url, archive_dir=str(archive.root))
    with serving(settings) as url:
        yield url


def _overlapping(records: list[bytes], t1: UTCDateTime, t2: UTCDateTime) -> list[bytes]:
    """The records whose span overlaps [t1, t2], computed independently with ObsPy."""
    chosen = []
    for record in records:
        trace = obspy.read(io.BytesIO(record))[0]
        if trace.stats.starttime <= t2 and trace.stats.endtime >= t1:
            chosen.append(record)
    return chosen


def _raw(base_url: str, channel: str, t1: UTCDateTime, t2: UTCDateTime) -> bytes:
    query = f"net=TJ&sta=SAREZ&loc=--&cha={channel}&start={t1}&end={t2}"
    with urllib.request.urlopen(f"{base_url}/fdsnws/dataselect/1/query?{query}") as r:
        assert r.headers["Content-Type"] == "application/vnd.fdsn.mseed"
        raw: bytes = r.read()
    return raw


def _assert_source_data(trace: obspy.Trace, source: obspy.Trace) -> None:
    offset = round((trace.stats.starttime - source.stats.starttime) * source.stats.sampling_rate)
    assert offset >= 0
    assert_array_equal(trace.data, source.data[offset : offset + len(trace.data)])


def test_obspy_client_gets_the_archived_records(base_url: str, archive: Archive) -> None:
    client = Client(base_url)
    assert "dataselect" in client.services
    t1, t2 = T0 + 5, T0 + 15  # across midnight: two day files per channel
    stream = client.get_waveforms("TJ", "SAREZ", "", "HH?", t1, t2)
    assert sorted(tr.id for tr in stream) == ["TJ.SAREZ..HHE", "TJ.SAREZ..HHN", "TJ.SAREZ..HHZ"]
    for trace in stream:  # ObsPy trims to the window
        assert (trace.stats.starttime, trace.stats.endtime) == (t1, t2)
        _assert_source_data(trace, archive.source[trace.stats.channel])
    raw = _raw(base_url, "HHZ", t1, t2)
    assert raw == b"".join(_overlapping(archive.records["HHZ"], t1, t2))
    whole = obspy.read(io.BytesIO(raw))
    assert len(whole) == 1
    assert whole[0].stats.starttime < t1
    assert whole[0].stats.endtime > t2
    _assert_source_data(whole[0], archive.source["HHZ"])


def test_a_window_just_after_midnight_finds_the_record_started_before(
    base_url: str, archive: Archive
) -> None:
    raw = _raw(base_url, "HHN", MIDNIGHT, MIDNIGHT + 0.2)
    assert raw == b"".join(_overlapping(archive.records["HHN"], MIDNIGHT, MIDNIGHT + 0.2))
    stream = obspy.read(io.BytesIO(raw))
    assert stream[0].stats.starttime < MIDNIGHT
    _assert_source_data(stream[0], archive.source["HHN"])


def test_bulk_request(base_url: str, archive: Archive) -> None:
    client = Client(base_url)
    stream = client.get_waveforms_bulk(
        [
            ("TJ", "SAREZ", "", "HHZ", T0 + 1, T0 + 2),
            ("TJ", "SAR*", "", "HHE", T0 + 20, T0 + 25),
            ("XX", "NONE", "", "HHZ", T0, T0 + 10),
        ]
    )
    assert sorted(tr.id for tr in stream) == ["TJ.SAREZ..HHE", "TJ.SAREZ..HHZ"]
    for trace in stream:
        _assert_source_data(trace, archive.source[trace.stats.channel])
    assert stream.select(channel="HHE")[0].stats.starttime <= T0 + 20


def test_bytes_past_the_committed_size_are_never_served(base_url: str, archive: Archive) -> None:
    day_file = archive.root / archive.leftover_path
    assert day_file.stat().st_size % RECLEN == 0  # the leftover is a whole, readable record
    stream = Client(base_url).get_waveforms("TJ", "SAREZ", "", "HHZ", T0 + 25, T0 + 60)
    assert len(stream) == 1
    assert LEFTOVER_VALUE not in stream[0].data
    assert stream[0].stats.endtime == archive.source["HHZ"].stats.endtime


def test_empty_window_and_unknown_channels_give_no_data(base_url: str) -> None:
    client = Client(base_url)
    with pytest.raises(FDSNNoDataException):
        client.get_waveforms("TJ", "SAREZ", "", "HHZ", T0 - 3600, T0 - 1800)
    with pytest.raises(FDSNNoDataException):
        client.get_waveforms("TJ", "MURGH", "", "HHZ", T0, T0 + 10)  # nothing archived
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(
            f"{base_url}/fdsnws/dataselect/1/query?net=XX&start=2025-06-15&end=2025-06-16"
            "&nodata=404"
        )
    assert info.value.code == 404
    info.value.close()
    with urllib.request.urlopen(f"{base_url}/fdsnws/dataselect/1/version") as r:
        assert r.read().decode() == "1.1.0"


def _error(base_url: str, query: str | None, body: bytes | None = None) -> tuple[int, str]:
    url = f"{base_url}/fdsnws/dataselect/1/query" + (f"?{query}" if query else "")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(url, data=body))
    text = info.value.read().decode()
    info.value.close()
    return info.value.code, text


def test_bad_requests_get_the_fdsn_error_document(base_url: str) -> None:
    window = "start=2025-06-15T23:59:55&end=2025-06-16T00:00:05"
    cases = [
        ("sta=SAREZ&start=2025-06-15", 400, "endtime is required"),
        ("start=2025-06-16&end=2025-06-15", 400, "must be after starttime"),
        ("start=2025-06-01&end=2025-08-01", 413, "at most 31 per request"),
        (f"net=T[J&{window}", 400, "Bad value for network"),
        (f"format=sac&{window}", 400, "Bad value for format"),
        (f"quality=X&{window}", 400, "Bad value for quality"),
        (f"minimumlength=-1&{window}", 400, "Bad value for minimumlength"),
        (f"colour=red&{window}", 400, "Unsupported parameter: colour"),
    ]
    for query, status, needle in cases:
        code, text = _error(base_url, query)
        assert code == status, query
        assert text.startswith(f"Error {status}: "), query
        assert needle in text, query
    posts = [
        (b"TJ SAREZ -- HHZ 2025-06-15T23:59:55\n", "Bad request line 1"),
        (b"colour=red\nTJ SAREZ -- HHZ 2025-06-15T23:59:55 2025-06-16\n", "Unsupported parameter"),
        (b"quality=B\n", "names no channel"),
    ]
    for body, needle in posts:
        code, text = _error(base_url, None, body)
        assert code == 400, body
        assert needle in text, body
