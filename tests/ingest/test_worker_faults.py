"""A real worker process meets a database it cannot write to for a while (defect 8 of the
exactly-once issue): it logs the fault, waits with backoff, starts over from what was stored
when the database answers again, and never exits by itself; the archive then holds every
record exactly once. On SQLite another process holds the database's write lock; on
PostgreSQL the server ends the worker's connections, as a restart of the server does."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from stations.db import make_engine, make_session_factory
from stations.models import ChannelStatus

from ..conftest import Made, ServerThread
from .test_worker_restart import (
    Worker,
    _assert_archive_holds_each_record_once,
    _publish_paced,
    _wait,
    db_url,  # noqa: F401  (a fixture)
)

pytestmark = pytest.mark.e2e


def test_the_worker_waits_out_a_database_it_cannot_write_to(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    made: Made,
    server_factory: Callable[..., ServerThread],
) -> None:
    archive = tmp_path / "archive"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": db_url,
        "LARZA_ARCHIVE_DIR": str(archive),
        "LARZA_RECONNECT_DELAY_S": "0.5",
        "LARZA_SQLITE_TIMEOUT_S": "1",
    }
    engine = make_engine(db_url, pool_pre_ping=True)  # outlives the ended connections
    factory = make_session_factory(engine)

    def processed() -> int:
        with factory() as s:
            return int(s.scalar(select(func.coalesce(func.sum(ChannelStatus.records), 0))) or 0)

    records = made.records
    third = len(records) // 3
    server = server_factory()
    worker = Worker(server.port, env, log)
    try:
        worker.start()
        _wait(lambda: server.server.client_count >= 1, 30, "the worker to connect", log)
        _publish_paced(server, records[:third])
        _wait(lambda: processed() >= third, 60, "the first third", log)

        with _database_unwritable(db_url, seconds=6.0):
            _publish_paced(server, records[third : 2 * third])
        _wait(lambda: "storing works again" in log.read_text(), 60, "the recovery", log)
        _publish_paced(server, records[2 * third :])
        _wait(lambda: processed() >= len(records), 90, "every record", log)
        assert worker.proc is not None
        assert worker.proc.poll() is None  # it never exited by itself
        worker.kill(signal.SIGTERM)
        assert worker.proc.returncode == 0
    finally:
        worker.ensure_stopped()
    _assert_archive_holds_each_record_once(made, archive)
    assert processed() == len(records)
    text_ = log.read_text()
    assert "cannot store" in text_
    assert "Traceback" not in text_
    engine.dispose()


class _database_unwritable:
    """For ``seconds``: SQLite's write lock held by this process, or PostgreSQL ending every
    other connection to the database as soon as it appears."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url, self.seconds = url, seconds

    def __enter__(self) -> None:
        self.until = time.monotonic() + self.seconds
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            self.lock: sqlite3.Connection | None = sqlite3.connect(
                parsed.database or "", isolation_level=None
            )
            self.lock.execute("BEGIN EXCLUSIVE")
        else:
            self.lock = None
            self.admin = make_engine(self.url)
            self._terminate()

    def _terminate(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.commit()

    def __exit__(self, *exc: object) -> None:
        while time.monotonic() < self.until:
            if self.lock is None:
                self._terminate()
            time.sleep(0.2)
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
        else:
            self.admin.dispose()
