"""The worker killed with SIGKILL mid-stream and restarted, and the feed server restarted:
afterwards the archive holds every record exactly once, byte for byte, and the database
agrees with it. Real processes, real TCP on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.worker.archive import sds_path
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ArchiveFile, ChannelStatus, StationLease
from stations.queries import ChannelKey

from ..conftest import Made, ServerThread

pytestmark = pytest.mark.e2e


class Worker:
    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.args = [sys.executable, "-m", "ingest", "worker", "--seedlink", f"127.0.0.1:{port}"]
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)


@pytest.fixture
def db_url(fresh_database_url: str) -> str:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    engine.dispose()
    return fresh_database_url


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")


def _publish_paced(server: ServerThread, records: list[bytes], per_batch: int = 40) -> None:
    for i in range(0, len(records), per_batch):
        server.publish(records[i : i + per_batch])
        time.sleep(0.02)


def _assert_archive_holds_each_record_once(
    made: Made, archive: Path
) -> tuple[dict[ChannelKey, list[bytes]], dict[ChannelKey, float]]:
    """Every channel's day file is exactly its records, in order; returns them by channel."""
    by_channel: dict[ChannelKey, list[bytes]] = defaultdict(list)
    starts: dict[ChannelKey, float] = {}
    for raw, info in zip(made.records, made.infos, strict=True):
        key = ChannelKey(info.network, info.station, info.location, info.channel)
        by_channel[key].append(raw)
        starts.setdefault(key, info.start_ns / 1e9)
    for key, raws in by_channel.items():
        assert (archive / sds_path(key, starts[key])).read_bytes() == b"".join(raws), key
    return by_channel, starts


def _run_drill(
    worker: Worker, server: ServerThread, made: Made, processed: Callable[[], int], log: Path
) -> None:
    records = made.records
    third = len(records) // 3
    worker.start()
    _wait(lambda: server.server.client_count >= 1, 30, "the worker to connect", log)
    time.sleep(1.0)  # DATA without a sequence number asks for new data only

    # 1. SIGKILL in the middle of a stream.
    _publish_paced(server, records[:third])
    _wait(lambda: processed() > third // 3, 60, "records to be processed", log)
    worker.kill(signal.SIGKILL)
    worker.start()
    _publish_paced(server, records[third : 2 * third])

    # 2. The server goes away and comes back on the same port with its ring as it was
    #    (SeisComP and ringserver keep their buffers on disk): the worker must reconnect and
    #    resume from its stored sequence numbers, neither skipping nor re-processing.
    _wait(lambda: processed() >= 2 * third, 90, "the second third", log)
    port = server.port
    server.stop()
    restarted = ServerThread(stations=made.stations, port=port).start()
    try:
        restarted.publish(records[: 2 * third])
        _wait(lambda: restarted.server.client_count >= 1, 60, "the worker to reconnect", log)
        time.sleep(1.0)
        _publish_paced(restarted, records[2 * third :])
        _wait(lambda: processed() >= len(records), 120, "every record", log)
        # Ctrl-C, then a supervisor's SIGTERM on top: a clean stop all the same.
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        worker.kill(signal.SIGTERM)
        assert worker.proc.returncode == 0
    finally:
        restarted.stop()


def test_kill_9_and_server_restart_lose_and_repeat_nothing(
    db_url: str, tmp_path: Path, made: Made, server_factory: Callable[..., ServerThread]
) -> None:
    archive = tmp_path / "archive"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": db_url,
        "LARZA_ARCHIVE_DIR": str(archive),
        "LARZA_RECONNECT_DELAY_S": "0.5",
    }
    engine = make_engine(db_url)
    factory = make_session_factory(engine)

    def processed() -> int:
        with factory() as s:
            return int(s.scalar(select(func.coalesce(func.sum(ChannelStatus.records), 0))) or 0)

    records = made.records
    server = server_factory()
    worker = Worker(server.port, env, log)
    try:
        _run_drill(worker, server, made, processed, log)
    finally:
        worker.ensure_stopped()
    by_channel, starts = _assert_archive_holds_each_record_once(made, archive)
    with factory() as s:
        index = {a.path: a for a in s.scalars(select(ArchiveFile))}
        for key, raws in by_channel.items():
            entry = index[sds_path(key, starts[key])]
            assert (entry.size, entry.records) == (512 * len(raws), len(raws))
    assert processed() == len(records)
    text = log.read_text()
    assert "stopped after" in text
    assert "Traceback" not in text
    engine.dispose()


def test_two_workers_share_the_stations_and_one_takes_over_from_a_dead_one(
    db_url: str, tmp_path: Path, made: Made, server_factory: Callable[..., ServerThread]
) -> None:
    archive = tmp_path / "archive"
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": db_url,
        "LARZA_ARCHIVE_DIR": str(archive),
        "LARZA_RECONNECT_DELAY_S": "0.5",
        "LARZA_LEASE_TTL_S": "6",
    }
    engine = make_engine(db_url)
    factory = make_session_factory(engine)

    def processed() -> int:
        with factory() as s:
            return int(s.scalar(select(func.coalesce(func.sum(ChannelStatus.records), 0))) or 0)

    def holders() -> dict[str, set[str]]:
        with factory() as s:
            rows = s.scalars(select(StationLease).where(StationLease.worker.is_not(None)))
            found: dict[str, set[str]] = defaultdict(set)
            for lease in rows:
                found[lease.worker or ""].add(lease.station)
            return dict(found)

    records = made.records
    half = len(records) // 2
    server = server_factory()
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [Worker(server.port, env, log) for log in logs]
    try:
        for w in workers:
            w.start()
        # Both alive: each holds part of the three stations, none is held twice.
        _wait(lambda: len(holders()) == 2, 30, "both workers to hold stations", logs[0])
        shares = holders()
        assert sorted(len(s) for s in shares.values()) == [1, 2]
        assert set.union(*shares.values()) == {"MANEM", "MURGH", "SAREZ"}

        # Let the hand-over settle (each worker reconnects for its new share) before any data:
        # a station never processed before is read from "now" on.
        def settled() -> bool:
            before = holders()
            time.sleep(2.0)
            return holders() == before and len(before) == 2

        _wait(settled, 30, "the shares to settle", logs[0])
        time.sleep(1.0)
        _publish_paced(server, records[:half])
        _wait(lambda: processed() >= half, 60, "the first half", logs[0])

        # One dies without a word; the other takes its stations over once the lease expires.
        workers[0].kill(signal.SIGKILL)
        _wait(
            lambda: len(holders()) == 1 and len(next(iter(holders().values()))) == 3,
            30,
            "the take-over",
            logs[1],
        )
        _publish_paced(server, records[half:])
        _wait(lambda: processed() >= len(records), 60, "every record", logs[1])
        workers[1].kill(signal.SIGTERM)
    finally:
        for w in workers:
            w.ensure_stopped()

    _assert_archive_holds_each_record_once(made, archive)
    assert processed() == len(records)
    assert holders() == {}  # the clean stop handed every lease back
    engine.dispose()
