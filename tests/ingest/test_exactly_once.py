"""Every record exactly once across restarts, against a feed as strict as real servers.

The worker's own readers (positions from the database, as after a restart) and pipeline, in
this process, reading Larza's feed over loopback sockets; each test names the defect of the
exactly-once issue it holds fixed. Worker processes killed with SIGKILL are in
``test_worker_restart``; the whole drill matrix is ``bench/exactly_once.py``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from obspy import Trace, UTCDateTime
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.config import LarzaConfig
from ingest.feed import SyntheticSource, default_stations
from ingest.feed._mseed import record_info
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive, sds_path
from ingest.worker.pipeline import Pipeline
from ingest.worker.process import Readers
from ingest.worker.settings import WorkerSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.gaps import list_gaps
from stations.health import channel_healths, station_states
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ArchiveFile, ChannelKind
from stations.queries import (
    ChannelKey,
    channel_index,
    ensure_channels,
    list_detections,
    stream_positions,
)

from ..conftest import T0, Made, ServerThread
from .test_pipeline import _interleaved, records

STATIONS = {("TJ", "SAREZ"), ("TJ", "MURGH"), ("TJ", "MANEM")}
VERSIONS = pytest.mark.parametrize("protocol", ["3", "4"])


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    yield factory
    engine.dispose()


def archived(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.coalesce(func.sum(ArchiveFile.records), 0))) or 0)


def ingest(
    factory: sessionmaker[Session],
    archive: Path,
    port: int,
    until: Callable[[], bool],
    *,
    protocol: str = "auto",
    timeout: float = 30.0,
) -> Pipeline:
    """A worker's start: readers from the stored positions, a new pipeline, batches stored
    until ``until()``; then the readers stop (what they queued is dropped, as at a kill)."""
    settings = WorkerSettings(
        seedlink=f"127.0.0.1:{port}",
        selectors="",
        seedlink_protocol=protocol,  # type: ignore[arg-type]
        reconnect_delay_s=0.2,
    )
    pipeline = Pipeline(factory, server=settings.seedlink, archive=SdsArchive(archive))
    readers = Readers(settings, set(STATIONS), factory, LarzaConfig())
    deadline = time.monotonic() + timeout
    try:
        while not until():
            assert time.monotonic() < deadline, f"timed out: {dict(pipeline.counts)}"
            batch = readers.queue.take(50, 0.1)
            if batch:
                pipeline.handle_many(batch)
    finally:
        readers.stop()
        pipeline.close()
    return pipeline


def by_channel(recs: list[bytes]) -> dict[ChannelKey, list[bytes]]:
    out: dict[ChannelKey, list[bytes]] = defaultdict(list)
    for raw in recs:
        i = record_info(raw)
        out[ChannelKey(i.network, i.station, i.location, i.channel)].append(raw)
    return out


def assert_archive_is(archive: Path, recs: list[bytes]) -> None:
    """Each channel's day file holds exactly these records, in order (one day of data)."""
    for key, raws in by_channel(recs).items():
        path = archive / sds_path(key, record_info(raws[0]).start_ns / 1e9)
        assert path.read_bytes() == b"".join(raws), key


def later_records(span: float = 120.0) -> list[bytes]:
    """Other records of the same stations, an hour later (what a re-created ring holds)."""
    source = SyntheticSource(
        default_stations(), seed=99, event_interval=1000.0, first_event_after=30.0, start=T0 + 3600
    )
    out: list[bytes] = []
    t = T0 + 3600
    while t < T0 + 3600 + span:
        t += 1.0
        out += source.records_until(t)
    return out


# -- defects 1 and 4: the position sent on resume ------------------------------------------------


@VERSIONS
def test_1_a_restart_resumes_exactly_where_the_archive_ends(
    factory: sessionmaker[Session],
    loaded: ServerThread,
    made: Made,
    tmp_path: Path,
    protocol: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stored position is the last archived record's number and start time: the feed
    honours it (no resume by time, no record sent twice), and nothing is skipped."""
    n = len(made.records)
    ingest(factory, tmp_path, loaded.port, lambda: archived(factory) >= n // 3, protocol=protocol)
    with caplog.at_level(logging.INFO, logger="larza.feed"):
        again = ingest(
            factory, tmp_path, loaded.port, lambda: archived(factory) >= n, protocol=protocol
        )
    assert archived(factory) == n
    assert_archive_is(tmp_path, made.records)
    assert again.counts["repeated"] == 0
    assert "by time" not in caplog.text
    assert "new data only" not in caplog.text


@VERSIONS
def test_4_a_ring_re_created_behind_the_worker_loses_nothing(
    factory: sessionmaker[Session],
    server_factory: Callable[..., ServerThread],
    made: Made,
    tmp_path: Path,
    protocol: str,
) -> None:
    """The server comes back with a fresh ring whose numbers name other records: the start
    time sent with the number makes it resume by time, so every new record arrives; the span
    in between is a gap, found when the data resumed."""
    first = server_factory()
    first.publish(made.records)
    ingest(
        factory,
        tmp_path,
        first.port,
        lambda: archived(factory) >= len(made.records),
        protocol=protocol,
    )
    port = first.port
    first.stop()
    later = later_records()
    fresh = ServerThread(stations=default_stations(), port=port).start()
    try:
        fresh.publish(later)
        total = len(made.records) + len(later)
        ingest(factory, tmp_path, port, lambda: archived(factory) >= total, protocol=protocol)
    finally:
        fresh.stop()
    assert archived(factory) == total
    for key, raws in by_channel(later).items():
        day = tmp_path / sds_path(key, record_info(raws[0]).start_ns / 1e9)
        assert day.read_bytes().endswith(b"".join(raws)), key
    with factory() as s:
        gaps = list_gaps(s, limit=1000)
    assert {(g.network, g.station, g.location, g.channel) for g in gaps} == set(by_channel(later))
    assert {g.cause for g in gaps} == {"resume"}


# -- defect 3: no position yet ---------------------------------------------------------------


def test_3_a_worker_killed_before_its_first_commit_loses_nothing(
    factory: sessionmaker[Session], loaded: ServerThread, made: Made, tmp_path: Path
) -> None:
    """Its readers read and queued packets, nothing was stored: the next start, without a
    position, asks for what the server holds, not for new data only."""
    settings = WorkerSettings(seedlink=f"127.0.0.1:{loaded.port}", selectors="")
    readers = Readers(settings, set(STATIONS), factory, LarzaConfig())
    deadline = time.monotonic() + 20
    while len(readers.queue) < 100:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    readers.stop()  # killed: nothing stored
    with factory() as s:
        assert stream_positions(s, server=settings.seedlink) == {}
    ingest(factory, tmp_path, loaded.port, lambda: archived(factory) >= len(made.records))
    assert archived(factory) == len(made.records)
    assert_archive_is(tmp_path, made.records)


# -- defect 6: what the server no longer held ------------------------------------------------


@VERSIONS
def test_6_an_overrun_while_down_is_a_gap_with_its_exact_span(
    factory: sessionmaker[Session],
    server_factory: Callable[..., ServerThread],
    made: Made,
    tmp_path: Path,
    protocol: str,
) -> None:
    srv = server_factory(ring_size=150)
    srv.publish(made.records[:150])
    ingest(factory, tmp_path, srv.port, lambda: archived(factory) >= 150, protocol=protocol)
    srv.publish(made.records[150:])  # while the worker is down; the ring keeps 150
    ingest(factory, tmp_path, srv.port, lambda: archived(factory) >= 300, protocol=protocol)
    assert archived(factory) == 300  # the first 150 and the 150 the ring still held
    before, after = by_channel(made.records[:150]), by_channel(made.records[-150:])
    lost = by_channel(made.records[150:-150])
    with factory() as s:
        gaps = {(g.network, g.station, g.location, g.channel): g for g in list_gaps(s, limit=1000)}
    assert set(gaps) <= set(lost)  # no gap where nothing was lost
    checked = 0
    for key in lost:
        if key in before and key in after:
            gap = gaps[key]
            assert gap.cause == "resume"
            last, first = record_info(before[key][-1]), record_info(after[key][0])
            assert gap.start.timestamp() == pytest.approx(last.end_ns / 1e9, abs=1e-6)
            assert gap.end.timestamp() == pytest.approx(first.start_ns / 1e9, abs=1e-6)
            checked += 1
    assert checked >= 12


def test_6_a_restart_gap_shows_in_health_with_its_span(
    factory: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recs = records(_quiet_trace("SAREZ", "HHZ", 0.0, 300.0))
    first = _pipeline(factory, tmp_path)
    first.handle_many([Packet("TJ_SAREZ", i + 1, r) for i, r in enumerate(recs[:20])])
    second = _pipeline(factory, tmp_path)  # restarted; the next 10 records never came
    with caplog.at_level(logging.WARNING):
        second.handle_many([Packet("TJ_SAREZ", i + 31, r) for i, r in enumerate(recs[30:])])
    a, b = record_info(recs[19]), record_info(recs[30])
    with factory() as s:
        (gap,) = list_gaps(s)
        assert gap.start.timestamp() == pytest.approx(a.end_ns / 1e9, abs=1e-6)
        assert gap.end.timestamp() == pytest.approx(b.start_ns / 1e9, abs=1e-6)
        assert gap.cause == "resume"
        assert gap.seconds == pytest.approx((b.start_ns - a.end_ns) / 1e9 - 0.01)
        assert second.monitor is not None
        now = datetime.fromtimestamp(b.end_ns / 1e9 + 30, UTC)
        second.monitor.evaluate(s, now=now, stations={("TJ", "SAREZ")})
        s.commit()
    assert f"{gap.seconds:.3f} s missing" in caplog.text
    with factory() as s:
        hhz = channel_index(s)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
        reason = channel_healths(s, channel_ids=[hhz.id])[hhz.id].reason
        station = station_states(s)[hhz.station_id].reason
    assert "largest gap" in reason, reason
    assert "availability" in reason, reason
    assert "HHZ: availability" in station, station


# -- defects 2 and 5: what moves the position, what is a repeat ------------------------------


def _quiet_trace(station: str, channel: str, start: float, seconds: float, seed: int = 1) -> Trace:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 300, int(seconds * 100)).astype(np.int32)
    header = {
        "network": "TJ",
        "station": station,
        "location": "",
        "channel": channel,
        "sampling_rate": 100.0,
        "starttime": UTCDateTime(2025, 6, 1, 12, 0, 0) + start,
    }
    return Trace(data, header=header)


def _pipeline(factory: sessionmaker[Session], archive: Path) -> Pipeline:
    return Pipeline(
        factory,
        server="test:18000",
        archive=SdsArchive(archive),
        clock=lambda: datetime(2025, 6, 1, 12, 30, tzinfo=UTC),
    )


def test_2_repeats_and_corrupt_packets_leave_the_position_alone(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    recs = records(_quiet_trace("SAREZ", "HHZ", 0.0, 60.0))
    pipeline = _pipeline(factory, tmp_path)
    pipeline.handle_many([Packet("TJ_SAREZ", i + 1, r) for i, r in enumerate(recs[:8])])
    # the server resends an old record under a later number, then a packet arrives corrupt
    garbled = recs[8][:100] + bytes(412)
    pipeline.handle_many([Packet("TJ_SAREZ", 33, recs[3]), Packet("TJ_SAREZ", 34, garbled)])
    assert pipeline.counts["repeated"] == 1
    assert pipeline.counts["corrupt"] == 1
    with factory() as s:
        pos = stream_positions(s, server="test:18000")[("TJ", "SAREZ")]
    assert pos.last_seq == 8
    assert pos.last_start.timestamp() == pytest.approx(record_info(recs[7]).start_ns / 1e9)


def test_5_late_records_and_clock_jumps_are_archived_not_dropped(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    recs = records(_quiet_trace("SAREZ", "HHZ", 0.0, 120.0))
    pipeline = _pipeline(factory, tmp_path)
    pipeline.handle_many([Packet("TJ_SAREZ", i + 1, r) for i, r in enumerate(recs[:20]) if i != 10])
    with factory() as s:
        assert len(list_gaps(s)) == 1  # where record 10 is missing
    # record 10 comes late, after newer ones (a backfill): archived, and the gap is filled
    pipeline.handle_many([Packet("TJ_SAREZ", 21, recs[10])])
    with factory() as s:
        assert list_gaps(s) == []
    # the digitizer's clock jumps back an hour (records at times already archived, other
    # bytes), then ahead again, 5 s past where it was
    back = records(_quiet_trace("SAREZ", "HHZ", -3600.0 + 40.0, 30.0, seed=2))
    ahead = records(_quiet_trace("SAREZ", "HHZ", _end(recs[19]) + 5.0, 20.0, seed=3))
    pipeline.handle_many([Packet("TJ_SAREZ", 22 + i, r) for i, r in enumerate(back + ahead)])
    assert pipeline.counts["repeated"] == 0
    assert pipeline.counts["late"] == 1 + len(back)
    day = tmp_path / sds_path(ChannelKey("TJ", "SAREZ", "", "HHZ"), T_START)
    kept = day.read_bytes()
    assert len(kept) == 512 * (20 + len(back) + len(ahead))
    assert all(r in kept for r in recs[:20] + back + ahead)
    with factory() as s:
        (jump,) = list_gaps(s)
    assert jump.cause == "stream"
    assert jump.seconds == pytest.approx(5.0, abs=1e-6)


def _end(raw: bytes) -> float:
    """Seconds from 12:00:00 to the sample after the record's last."""
    return record_info(raw).end_ns / 1e9 + 0.01 - T_START


# -- defect 7: one channel's trouble stays its own --------------------------------------------


def test_7_a_1_sps_channel_and_a_nan_record_leave_the_others_running(
    fresh_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A seismometer channel at 1 sps (the default 1-20 Hz band does not fit it) and a
    float record of NaN: the batch is stored, the other channels' detections are those of
    a run without them, and the odd channels are still archived."""
    packets = _interleaved(np.random.default_rng(3))
    slow = _quiet_trace("SAREZ", "LHZ", 0.0, 90.0)
    slow.stats.sampling_rate = 1.0
    slow.data = slow.data[:90]
    nan = _quiet_trace("MURGH", "HHN", 0.0, 10.0)
    nan.data = np.full(1000, np.nan, dtype=np.float32)
    odd = [Packet("TJ_SAREZ", 900 + i, r) for i, r in enumerate(records(slow))]
    odd += [Packet("TJ_MURGH", 950 + i, r) for i, r in enumerate(_float_records(nan))]

    def run(database: str, folder: Path, extra: list[Packet]) -> list[tuple[str, float]]:
        engine = make_engine(database)
        migrate(engine)
        f = make_session_factory(engine)
        with f() as s, s.begin():
            import_stationxml(s, default_inventory_path())
            ensure_channels(
                s, wanted=[(ChannelKey("TJ", "SAREZ", "", "LHZ"), ChannelKind.SEISMOMETER, 1.0)]
            )
        pipeline = _pipeline(f, folder)
        for i, p in enumerate(packets):
            pipeline.handle(p)
            if i < len(extra):
                pipeline.handle(extra[i])
        with f() as s:
            found = [(d.channel.code, d.onset_time.timestamp()) for d in list_detections(s)]
        engine.dispose()
        return sorted(found)

    expected = run(f"sqlite:///{tmp_path / 'plain.sqlite'}", tmp_path / "plain", [])
    with caplog.at_level(logging.WARNING):
        got = run(fresh_database_url, tmp_path / "odd", odd)
    assert len(expected) == 3
    assert got == expected
    assert "TJ.SAREZ..LHZ" in caplog.text
    lhz = tmp_path / "odd" / sds_path(ChannelKey("TJ", "SAREZ", "", "LHZ"), T_START)
    assert lhz.read_bytes() == b"".join(p.payload for p in odd if p.station_id == "TJ_SAREZ")


def _float_records(trace: Trace) -> list[bytes]:
    import io

    from obspy import Stream

    buf = io.BytesIO()
    Stream([trace]).write(buf, format="MSEED", reclen=512, encoding="FLOAT32")
    raw = buf.getvalue()
    return [raw[i : i + 512] for i in range(0, len(raw), 512)]


# -- defect 10: detections across a restart -------------------------------------------------


@pytest.mark.parametrize("restart_after", [30, 41.5])  # before the quakes; inside SAREZ's
def test_10_detections_after_a_restart_equal_an_uninterrupted_run(
    fresh_database_url: str, tmp_path: Path, restart_after: float
) -> None:
    packets = _interleaved(np.random.default_rng(3))

    def run(split: float | None, folder: Path, database: str) -> list[tuple[str, str, float]]:
        engine = make_engine(database)
        migrate(engine)
        f = make_session_factory(engine)
        with f() as s, s.begin():
            import_stationxml(s, default_inventory_path())
        pipeline = _pipeline(f, folder)
        for p in packets:
            if split is not None and record_info(p.payload).start_ns / 1e9 - T_START >= split:
                pipeline = _pipeline(f, folder)  # a restart: state from the database only
                split = None
            pipeline.handle(p)
        with f() as s:
            found = [
                (d.channel.station.code, d.channel.code, d.onset_time.timestamp())
                for d in list_detections(s, limit=1000)
            ]
        engine.dispose()
        return sorted(found)

    whole = run(None, tmp_path / "whole", fresh_database_url)
    other = f"sqlite:///{tmp_path / 'restarted.sqlite'}"
    restarted = run(restart_after, tmp_path / "restarted", other)
    assert len(whole) == 3
    assert [(a, b) for a, b, _ in restarted] == [(a, b) for a, b, _ in whole]
    for (_, _, t1), (_, _, t2) in zip(restarted, whole, strict=True):
        assert t1 == pytest.approx(t2, abs=1e-6)


T_START = UTCDateTime(2025, 6, 1, 12, 0, 0).timestamp


def _three_components() -> list[Packet]:
    """SAREZ's seismometer (HHZ, HHN, HHE): a P at 60 s strong on the vertical, its S 4 s
    later on the horizontals; 512-byte records interleaved by end time as a feed sends them."""
    from ..detection.test_sensor import arrival

    data = arrival(np.random.default_rng(11), 100.0, (60.0,))
    timed = []
    for code, x in data.items():
        trace = Trace(
            x.astype(np.int32),
            header={"network": "TJ", "station": "SAREZ", "location": "", "channel": code,
                    "sampling_rate": 100.0, "starttime": UTCDateTime(T_START)},
        )  # fmt: skip
        for raw in records(trace):
            timed.append((record_info(raw).end_ns, code, raw))
    timed.sort()
    return [Packet("TJ_SAREZ", i + 1, raw) for i, (_, _, raw) in enumerate(timed)]


@pytest.mark.parametrize("restart_after", [61.0, 63.0, 65.0])  # after the P; before, in the S
def test_10_p_and_s_after_a_restart_equal_an_uninterrupted_run(
    fresh_database_url: str, tmp_path: Path, restart_after: float
) -> None:
    """A sensor's three channels are warmed together after a restart: the S that the P
    before the restart opened is still found on the horizontals, once."""
    packets = _three_components()

    def run(split: float | None, folder: Path, database: str) -> list[tuple[str, str, float]]:
        engine = make_engine(database)
        migrate(engine)
        f = make_session_factory(engine)
        with f() as s, s.begin():
            import_stationxml(s, default_inventory_path())
        pipeline = _pipeline(f, folder)
        for p in packets:
            if split is not None and record_info(p.payload).start_ns / 1e9 - T_START >= split:
                pipeline = _pipeline(f, folder)
                split = None
            pipeline.handle(p)
        with f() as s:
            found = [
                (d.channel.code, d.phase or "-", d.onset_time.timestamp())
                for d in list_detections(s, limit=1000)
            ]
        engine.dispose()
        return sorted(found)

    whole = run(None, tmp_path / "whole", fresh_database_url)
    other = f"sqlite:///{tmp_path / 'restarted.sqlite'}"
    restarted = run(restart_after, tmp_path / "restarted", other)
    assert [(c, ph) for c, ph, _ in whole] == [("HHN", "S"), ("HHZ", "P")]
    assert [(c, ph) for c, ph, _ in restarted] == [(c, ph) for c, ph, _ in whole]
    for (_, _, t1), (_, _, t2) in zip(restarted, whole, strict=True):
        assert t1 == pytest.approx(t2, abs=1e-6)


# -- defect 9: what the server carries ----------------------------------------------------------


def test_9_stations_not_carried_and_not_read_are_named_once(
    loaded: ServerThread, factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    from ingest.seedlink.source import SeedLinkSource

    source = SeedLinkSource(
        f"127.0.0.1:{loaded.port}",
        [("TJ", "SAREZ"), ("TJ", "NOPE")],
        "",
        {},
        keepalive_s=30.0,
        idle_timeout_s=30.0,
        reconnect_delay_s=0.2,
    )
    with caplog.at_level(logging.INFO):
        packets = source.packets()
        next(packets)
        source.stop()
        source.close()
    assert "does not carry TJ.NOPE" in caplog.text
    assert "also offers 2 station(s) not read here: TJ.MANEM, TJ.MURGH" in caplog.text
