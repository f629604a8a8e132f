"""The SSE stream fed by one poller per API process: many clients get the same changes, in
order, while the database is read as often as with one; a client that resumes while
changes flow, or that falls behind the hub, gets every change exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from api import hub as hub_module
from api.hub import Batch, ChangeHub
from api.routers.stream import _events, read_batch
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory
from stations.models import ChangeKind, HealthState

from .test_stream import Serving, SseClient, Writer, prepared, serving, sse

CLIENTS = 20


@pytest.fixture
def database(fresh_database_url: str) -> str:
    return prepared(fresh_database_url)


@pytest.fixture
def writer(database: str) -> Iterator[Writer]:
    w = Writer(database)
    yield w
    w.close()


@pytest.fixture
def api(database: str) -> Iterator[Serving]:
    settings = ApiSettings(
        database_url=database,
        stream_poll_s=0.05,
        stream_keepalive_s=0.5,
        webhooks_enabled=False,
    )
    with serving(settings) as s:
        yield s


def test_many_clients_one_poller(api: Serving, writer: Writer) -> None:
    """Twenty clients see the same changes in the same order; the change log is read by
    the process's poller only (a statement or two per poll), not once per client."""
    app: Any = api.server.config.app
    engine = app.state.session_factory.kw["bind"]
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "change_log" in statement:
            reads.append(threading.current_thread().name)

    clients = [SseClient(api.port, "/api/v1/stream") for _ in range(CLIENTS)]
    try:
        for client in clients:
            assert client.next().retry == 2000
        event.listen(engine, "before_cursor_execute", count)
        polls = app.state.watcher.polls
        ids = [i for _ in range(5) for i in writer.detections("SAREZ", "MURGH")[0]]
        ids.append(writer.state("MANEM", HealthState.DOWN))
        got = [[m.id for m in client.changes(len(ids))] for client in clients]
        polls = app.state.watcher.polls - polls
        event.remove(engine, "before_cursor_execute", count)
        assert got == [ids] * CLIENTS
        assert set(reads) == {"larza-api-poller"}
        assert len(reads) <= 3 * (polls + 2)  # the log's end each poll, pages when it moved
        for client in clients:
            client.quiet()
    finally:
        for client in clients:
            client.close()


def test_resuming_while_changes_flow_misses_nothing(api: Serving, writer: Writer) -> None:
    """A client resumes 250 changes back (three pages from the database) while more are
    written: it gets each once, in order, then the live ones."""
    with sse(api.port, "/api/v1/stream") as client:
        client.next()
        first = writer.detections("SAREZ")[0]
        assert [m.id for m in client.changes(1)] == first
    missed = [i for _ in range(125) for i in writer.detections("SAREZ", "MANEM")[0]]
    more: list[int] = []

    def write_more() -> None:
        for _ in range(10):
            more.extend(writer.detections("MURGH")[0])

    with sse(api.port, "/api/v1/stream", {"Last-Event-ID": str(first[0])}) as client:
        client.next()
        thread = threading.Thread(target=write_more)
        thread.start()
        thread.join()
        got = [m.id for m in client.changes(len(missed) + len(more))]
        assert got == missed + more
        client.quiet()


def test_a_client_that_falls_behind_catches_up_from_the_database(
    database: str, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub drops a subscriber that leaves more than ``MAX_PENDING`` batches unread; its
    stream reads what it missed from the database and goes on with the hub's batches."""
    monkeypatch.setattr(hub_module, "MAX_PENDING", 2)
    engine = make_engine(database)
    factory = make_session_factory(engine)
    start = writer.detections("SAREZ")[0][0]

    async def run() -> list[int]:
        hub = ChangeHub()
        hub.begin(start)
        stream = _events(hub, factory, after=start, kinds=set(ChangeKind), keepalive_s=60)
        assert (await anext(stream)).startswith("retry:")
        first = asyncio.ensure_future(anext(stream))  # subscribes, then waits for the hub
        await asyncio.sleep(0.05)
        (subscription,) = hub.subscribers
        cursor = start
        for _ in range(5):  # five batches at once, unread: the subscriber is dropped
            writer.detections("MANEM", "MURGH")
            with factory() as s:
                batch, _ = read_batch(s, cursor)
            hub.publish(batch)
            cursor = batch.cursor
        assert subscription.dropped
        assert not hub.subscribers
        texts = [await first] + [await anext(stream) for _ in range(9)]
        live = writer.detections("SAREZ")[0]
        with factory() as s:
            batch, _ = read_batch(s, cursor)
        hub.publish(batch)
        texts.append(await anext(stream))
        await stream.aclose()
        assert live[0] == batch.messages[0].id
        return [int(t.split("\n")[0].removeprefix("id: ")) for t in texts]

    try:
        got = asyncio.run(run())
    finally:
        engine.dispose()
    assert got == list(range(start + 1, start + 12))


def test_the_hub_hands_each_batch_to_every_subscriber() -> None:
    async def run() -> None:
        hub = ChangeHub()
        assert not hub.ready.is_set()
        hub.begin(7)
        one, two = hub.subscribe({ChangeKind.STATE}), hub.subscribe(set(ChangeKind))
        assert (one.start, two.start) == (7, 7)
        batch = Batch((), 9)
        hub.publish(batch)
        assert one.take() == [batch]
        assert two.take() == [batch]
        assert hub.subscribe(set(ChangeKind)).start == 9
        hub.close()
        assert one.closed
        assert hub.subscribe(set(ChangeKind)).closed

    asyncio.run(run())
