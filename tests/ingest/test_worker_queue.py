"""The hand-over between the worker's reader threads and its main thread: a quiet station's
packet is taken as soon as it arrives, a full queue holds the reader back without losing or
repeating a packet, and stopping ends a reader promptly, whether it waits for room or for a
packet on a silent connection. Readers read Larza's feed over real loopback sockets."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from ingest.config import LarzaConfig
from ingest.seedlink.source import HELD, Packet, SeedLinkSource
from ingest.worker.process import PacketQueue, Readers, _read
from ingest.worker.settings import WorkerSettings
from stations.db import make_engine, make_session_factory, migrate

from ..conftest import Made, ServerThread

STATIONS = [("TJ", "MANEM"), ("TJ", "MURGH"), ("TJ", "SAREZ")]
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def _packet(n: int) -> Packet:
    return Packet("TJ_SAREZ", n, b"%d" % n)


def test_take_waits_for_the_first_packet_then_takes_what_is_there() -> None:
    queue = PacketQueue(100)
    started = time.monotonic()
    assert queue.take(10, 0.2) == []
    assert 0.15 < time.monotonic() - started < 2.0
    queue.put_all([_packet(n) for n in range(25)], threading.Event())
    assert len(queue) == 25
    assert [p.seqnum for p in queue.take(10, 0.2)] == list(range(10))
    assert [p.seqnum for p in queue.take(100, 0.2)] == list(range(10, 25))
    assert len(queue) == 0
    with pytest.raises(ValueError, match="at least 1"):
        PacketQueue(0)


def test_put_all_stops_at_the_stop_flag() -> None:
    queue = PacketQueue(100)
    stop = threading.Event()

    def packets() -> Iterator[Packet]:
        for n in range(10):
            if n == 4:
                stop.set()
            yield _packet(n)

    queue.put_all(packets(), stop)
    assert [p.seqnum for p in queue.take(100, 0.1)] == [0, 1, 2, 3]


def _source(port: int, start: bool) -> SeedLinkSource:
    """A source for the three stations: from their first packet, or new data only."""
    return SeedLinkSource(
        f"127.0.0.1:{port}",
        STATIONS,
        "",
        {},  # no positions: from what the feed holds, or new data only
        keepalive_s=30.0,
        idle_timeout_s=30.0,
        reconnect_delay_s=0.2,
        new_start=HELD if start else None,
    )


class _Reader:
    """A reader thread as the worker runs one, and its stop."""

    def __init__(self, source: SeedLinkSource, queue: PacketQueue) -> None:
        self.source, self.queue = source, queue
        self.flag = threading.Event()
        self.thread = threading.Thread(target=_read, args=(source, queue, self.flag), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.flag.set()
        self.source.stop()
        self.queue.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_quiet_stations_packet_is_taken_as_soon_as_it_arrives(
    server_factory: Callable[..., ServerThread], made: Made
) -> None:
    feed = server_factory()
    queue = PacketQueue(1000)
    reader = _Reader(_source(feed.port, start=False), queue)
    try:
        _wait(lambda: feed.server.client_count == 1, 20, "the reader to connect")
        time.sleep(0.5)  # a new client asks for new data only: let it start streaming
        sarez = [r for r in made.records if r[8:13] == b"SAREZ"][:3]
        for record in sarez:
            assert feed.publish([record])
            started = time.monotonic()
            batch = queue.take(500, 10.0)
            waited = time.monotonic() - started
            assert [p.payload for p in batch] == [record]
            assert waited < 1.0  # not the whole wait: the reader wakes the taker
            assert queue.take(500, 0.05) == []
    finally:
        reader.stop()  # on a silent connection
    _wait(lambda: feed.server.client_count == 0, 10, "the connection to close")


def test_a_full_queue_holds_the_reader_back_and_loses_nothing(
    loaded: ServerThread, made: Made
) -> None:
    queue = PacketQueue(50)
    reader = _Reader(_source(loaded.port, start=True), queue)
    try:
        _wait(lambda: len(queue) >= 50, 20, "the queue to fill")
        time.sleep(0.5)
        assert len(queue) <= 51  # the bound, and one more per reader at most
        got: list[Packet] = []
        deadline = time.monotonic() + 60
        while len(got) < len(made.records) and time.monotonic() < deadline:
            batch = queue.take(20, 0.5)
            assert len(batch) <= 20
            got += batch
            assert len(queue) <= 51
    finally:
        reader.stop()
    assert Counter(p.payload for p in got) == Counter(made.records)
    by_station: dict[str, list[int | None]] = defaultdict(list)
    for p in got:
        by_station[p.station_id].append(p.seqnum)
    for seqs in by_station.values():
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize("waiting_for", ["room", "a packet"])
def test_the_workers_readers_stop_promptly(
    fresh_database_url: str, loaded: ServerThread, waiting_for: str
) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    address = f"127.0.0.1:{loaded.port}"
    settings = WorkerSettings(
        seedlink=address,
        selectors="",
        queue_size=30,
        # "a packet": no position and new data only, so the reader waits for the next packet
        new_station_start="held" if waiting_for == "room" else "now",
    )
    readers = Readers(settings, set(STATIONS), factory, LarzaConfig())
    try:
        _wait(lambda: loaded.server.client_count == 1, 20, "the reader to connect")
        if waiting_for == "room":
            _wait(lambda: len(readers.queue) >= 30, 20, "the queue to fill")
        time.sleep(0.5)
        assert readers.is_alive()
        started = time.monotonic()
        readers.stop()
        _wait(lambda: not readers.is_alive(), 5, "the reader to stop")
        assert time.monotonic() - started < 2.5
        _wait(lambda: loaded.server.client_count == 0, 10, "the connection to close")
        # What was queued can still be taken; nothing more comes.
        queued = 30 if waiting_for == "room" else 0
        assert len(readers.queue.take(100, 0.1)) == queued
        assert readers.queue.take(100, 0.3) == []
    finally:
        readers.stop()
        engine.dispose()
