"""Shared fixtures: a migrated database per run, each test inside a rolled-back transaction.

SQLite by default; set ``LARZA_TEST_DATABASE_URL`` (a PostgreSQL URL) to run the same suite
on PostgreSQL. ``fresh_database_url`` gives tests that start real processes a database of
their own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from obspy.taup import TauPyModel
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from detection import TravelTimeTable
from ingest.feed import SeedLinkServer, StationSpec, SyntheticSource, default_stations
from ingest.feed._mseed import RecordInfo, record_info
from ingest.quakes.traveltimes import TableGrid, build_tau_model, load_table
from ingest.quakes.velocity import named_model
from stations.db import make_engine, migrate
from stations.inventory import default_inventory_path, import_stationxml

PG_URL = os.environ.get("LARZA_TEST_DATABASE_URL")


def free_port() -> int:
    """A TCP port free on loopback right now (for a server started by a test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """The run's database; with pytest-xdist (``-n 2``) each worker process gets its own
    (on PostgreSQL a database named after the worker next to the one given)."""
    if PG_URL and worker_id == "master":
        return PG_URL
    if PG_URL:
        name = f"{make_url(PG_URL).database}_{worker_id}"
        admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'larza-test.sqlite'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def inventory(session: Session) -> Session:
    """The session with the default TJ inventory imported."""
    import_stationxml(session, default_inventory_path())
    return session


@contextmanager
def own_database(folder: Path) -> Iterator[str]:
    """An empty database of its own: SQLite in ``folder``, or on PostgreSQL a database made
    next to the suite's and dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{folder / 'larza.sqlite'}"
        return
    name = f"larza_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (for tests that run real processes), dropped afterwards."""
    with own_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def table_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A travel-time cache of this run, shared by its workers (a table is built once a run;
    with pytest-xdist the workers' temporary directories share the run's as parent)."""
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return (base.parent if worker else base) / "traveltimes"


@pytest.fixture(scope="session")
def pamir_table(table_cache: Path) -> TravelTimeTable:
    """The default model's table on the default grid (built in a few seconds, then cached)."""
    return load_table(named_model("pamir"), TableGrid(), table_cache)


@pytest.fixture(scope="session")
def pamir_taup(tmp_path_factory: pytest.TempPathFactory) -> TauPyModel:
    """TauP itself on the default model: the oracle of the travel-time tables."""
    npz = build_tau_model(named_model("pamir"), tmp_path_factory.mktemp("taup"))
    return TauPyModel(str(npz))


# A real feed server on a loopback port, run by an asyncio loop in a background thread, and
# minutes of synthetic records made ahead of time (a fast clock).

T = TypeVar("T")

T0 = 1_750_000_000.0
"""Start of the pre-made data (2025-06-15T15:06:40Z)."""
SPAN = 240.0


@dataclass(frozen=True)
class Made:
    stations: list[StationSpec]
    source: SyntheticSource
    records: list[bytes]
    infos: list[RecordInfo]


def make_records(span: float = SPAN, step: float = 1.0, seed: int = 7) -> Made:
    stations = default_stations()
    source = SyntheticSource(
        stations, seed=seed, event_interval=1000.0, first_event_after=30.0, start=T0
    )
    records: list[bytes] = []
    t = T0
    while t < T0 + span:
        t += step
        records += source.records_until(t)
    return Made(stations, source, records, [record_info(r) for r in records])


@pytest.fixture(scope="session")
def made() -> Made:
    return make_records()


class ServerThread:
    """The real server, its loop in a thread; ``call`` runs a coroutine there."""

    def __init__(
        self,
        ring_size: int = 100_000,
        stations: list[StationSpec] | None = None,
        port: int = 0,
        ring_file: Path | None = None,
    ):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = SeedLinkServer(
            host="127.0.0.1",
            port=port,
            ring_size=ring_size,
            organization="Larza test feed",
            stations=[(s.network, s.station, s.station.title()) for s in stations or []],
            ring_file=ring_file,
        )

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=20)

    def publish(self, records: list[bytes]) -> list[int]:
        async def go() -> list[int]:
            return [self.server.publish(r) for r in records]

        return self.call(go)

    def start(self) -> ServerThread:
        self.thread.start()
        self.call(self.server.start)
        return self

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.call(self.server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def factory(
        ring_size: int = 100_000, stations: list[StationSpec] | None = None
    ) -> ServerThread:
        st = ServerThread(ring_size, stations if stations is not None else default_stations())
        started.append(st.start())
        return st

    yield factory
    for st in started:
        st.stop()


@pytest.fixture
def loaded(server_factory: Callable[..., ServerThread], made: Made) -> ServerThread:
    """A server holding every pre-made record."""
    st = server_factory()
    st.publish(made.records)
    return st
