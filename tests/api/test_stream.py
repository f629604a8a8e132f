"""The SSE stream of changes, read by a plain HTTP client from a real server on loopback,
while changes are written the way the ingest worker writes them."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from api.app import create_app
from api.settings import ApiSettings
from stations.changes import log_changes
from stations.db import make_engine, make_session_factory, migrate
from stations.health import save_station_state
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ChangeKind, EventStatus, HealthState, Station
from stations.queries import ChannelKey, channel_index, store_detection, store_event

from ..conftest import free_port

# Shared with the webhook and API key tests.


@dataclass
class Serving:
    url: str
    port: int
    server: uvicorn.Server


@contextmanager
def serving(settings: ApiSettings) -> Iterator[Serving]:
    """The API on a loopback port, in a thread, for as long as the block runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the API did not start"
    try:
        yield Serving(f"http://127.0.0.1:{port}", port, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def prepared(url: str) -> str:
    """Migrate the database at ``url`` and import the default inventory."""
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    engine.dispose()
    return url


class Writer:
    """Writes detections, events and state changes as the worker does: each transaction
    ends with ``log_changes``. Methods return the ids of the changes logged."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.factory = make_session_factory(self.engine)
        with self.factory() as s:
            self.channels = {k: c.id for k, c in channel_index(s).items()}
            self.stations = {st.code: st.id for st in s.scalars(select(Station))}
        self.t0 = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
        self.n = 0

    def close(self) -> None:
        self.engine.dispose()

    def _detection(self, s: Any, station: str) -> int:
        self.n += 1
        onset = self.t0 + timedelta(minutes=self.n)
        return store_detection(
            s,
            channel_id=self.channels[ChannelKey("TJ", station, "", "HHZ")],
            on_time=onset + timedelta(seconds=0.3),
            off_time=onset + timedelta(seconds=9),
            onset_time=onset,
            peak_ratio=7.5,
            snr=11.0 + self.n,
            peak_amplitude=1200.0,
            profile="local",
            now=datetime.now(UTC),
        ).id

    def detections(self, *stations: str) -> tuple[list[int], list[int]]:
        """(change ids, detection ids)."""
        with self.factory() as s, s.begin():
            ids = [self._detection(s, station) for station in stations]
            logged = log_changes(
                s, changes=[(ChangeKind.DETECTION, d) for d in ids], now=datetime.now(UTC)
            )
            return [c.id for c in logged], ids

    def detections_and_event(self, *stations: str) -> tuple[list[int], list[int], int]:
        """Detections and the event associating them, in one transaction."""
        with self.factory() as s, s.begin():
            ids = [self._detection(s, station) for station in stations]
            event = self._event(s, None, ids, EventStatus.PRELIMINARY)
            logged = log_changes(
                s,
                changes=[*((ChangeKind.DETECTION, d) for d in ids), (ChangeKind.EVENT, event)],
                now=datetime.now(UTC),
            )
            return [c.id for c in logged], ids, event

    def _event(self, s: Any, event_id: int | None, ids: list[int], status: EventStatus) -> int:
        return store_event(
            s,
            event_id=event_id,
            time=self.t0 + timedelta(minutes=self.n),
            status=status,
            n_stations=len(ids),
            coincidence_sum=float(len(ids)),
            duration=9.0,
            detection_ids=ids,
            now=datetime.now(UTC),
        ).id

    def event_update(self, event_id: int, ids: list[int]) -> int:
        with self.factory() as s, s.begin():
            self._event(s, event_id, ids, EventStatus.FINAL)
            (logged,) = log_changes(
                s, changes=[(ChangeKind.EVENT, event_id)], now=datetime.now(UTC)
            )
            return logged.id

    def state(self, station: str, state: HealthState) -> int:
        with self.factory() as s, s.begin():
            change = save_station_state(
                s,
                station_id=self.stations[station],
                state=state,
                reason=f"drill: {state.value.lower()}",
                now=datetime.now(UTC),
            )
            assert change is not None
            (logged,) = log_changes(
                s, changes=[(ChangeKind.STATE, change.id)], now=datetime.now(UTC)
            )
            return logged.id


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
        return json.loads(r.read())


@dataclass
class Message:
    id: int | None = None
    event: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


class SseClient:
    """Reads a ``text/event-stream`` line by line, as a browser's EventSource would."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()

    def next(self) -> Message:
        message = Message()
        while True:
            raw = self.response.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if not line:
                if message != Message():
                    return message
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message.comments.append(value)
            elif name == "id":
                message.id = int(value)
            elif name == "event":
                message.event = value
            elif name == "data":
                message.data = value
            elif name == "retry":
                message.retry = int(value)

    def changes(self, n: int) -> list[Message]:
        """The next ``n`` change messages, skipping keepalives."""
        out: list[Message] = []
        while len(out) < n:
            m = self.next()
            if m.id is not None:
                out.append(m)
        return out

    def quiet(self) -> None:
        """Assert that the next message is a keepalive: nothing more is pending."""
        m = self.next()
        assert m.comments == ["keepalive"], m

    def close(self) -> None:
        self.response.close()
        self.conn.close()


@contextmanager
def sse(port: int, path: str, headers: dict[str, str] | None = None) -> Iterator[SseClient]:
    client = SseClient(port, path, headers)
    try:
        yield client
    finally:
        client.close()


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


def _wait_idle(server: uvicorn.Server) -> None:
    deadline = time.monotonic() + 5
    while server.server_state.tasks and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not server.server_state.tasks, "a stream kept running after its client left"


def test_stream_sends_new_changes_in_order_and_resumes(api: Serving, writer: Writer) -> None:
    before, _ = writer.detections("MANEM")  # already there: not sent to a new client
    with sse(api.port, "/api/v1/stream") as client:
        assert client.response.status == 200
        assert client.response.getheader("Content-Type", "").startswith("text/event-stream")
        assert client.next().retry == 2000
        ids, detection_ids, event_id = writer.detections_and_event("SAREZ", "MURGH")
        state_id = writer.state("SAREZ", HealthState.DOWN)
        got = client.changes(4)
        assert [m.id for m in got] == [*ids, state_id]
        assert before[0] < got[0].id
        assert [m.event for m in got] == ["detection", "detection", "event", "state"]
        # The same JSON as the REST API's.
        rest_detections = {
            d["id"]: d for d in get_json(f"{api.url}/api/v1/detections?after=0")["items"]
        }
        assert [json.loads(m.data or "") for m in got[:2]] == [
            rest_detections[d] for d in detection_ids
        ]
        event = json.loads(got[2].data or "")
        assert event == get_json(f"{api.url}/api/v1/events/{event_id}")
        assert [d["id"] for d in event["detections"]] == detection_ids
        state = json.loads(got[3].data or "")
        assert state == get_json(f"{api.url}/api/v1/state-changes")["items"][-1]
        assert (state["station"], state["to_state"]) == ("TJ.SAREZ", "DOWN")
        client.quiet()
        last_seen = got[-1].id
    _wait_idle(api.server)

    # Missed while disconnected: resumed from Last-Event-ID, exactly those, none repeated.
    missed = [
        writer.state("MURGH", HealthState.DEGRADED),
        writer.event_update(event_id, detection_ids),
        *writer.detections("MANEM")[0],
    ]
    with sse(api.port, "/api/v1/stream", {"Last-Event-ID": str(last_seen)}) as client:
        assert client.next().retry == 2000
        got = client.changes(3)
        assert [m.id for m in got] == missed
        assert [m.event for m in got] == ["state", "event", "detection"]
        assert json.loads(got[1].data or "")["status"] == "final"
        client.quiet()
        newer = writer.state("MANEM", HealthState.OK)
        assert [m.id for m in client.changes(1)] == [newer]
        client.quiet()
    _wait_idle(api.server)


def test_kinds_filter_and_last_event_id_parameter(api: Serving, writer: Writer) -> None:
    first, _, _ = writer.detections_and_event("SAREZ", "MANEM")
    down = writer.state("SAREZ", HealthState.DOWN)
    more, _ = writer.detections("MURGH")
    up = writer.state("SAREZ", HealthState.OK)
    with sse(api.port, "/api/v1/stream?kinds=state,event&last_event_id=0") as client:
        got = client.changes(3)
        assert [(m.id, m.event) for m in got] == [
            (first[2], "event"),
            (down, "state"),
            (up, "state"),
        ]
        client.quiet()
    with sse(api.port, "/api/v1/stream?kinds=detection&last_event_id=0") as client:
        got = client.changes(3)
        assert [m.id for m in got] == [first[0], first[1], more[0]]
        client.quiet()
    # A reconnecting browser keeps its URL and sends the header: the header wins.
    with sse(api.port, "/api/v1/stream?last_event_id=0", {"Last-Event-ID": str(down)}) as client:
        assert [m.id for m in client.changes(2)] == [more[0], up]
        client.quiet()
    _wait_idle(api.server)


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("kinds=quake", "kinds"),
        ("kinds=state,,event", "kinds"),
        ("last_event_id=-1", "last_event_id"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Serving, query: str, where: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{api.url}/api/v1/stream?{query}")
    assert info.value.code == 422
    body = json.loads(info.value.read())
    info.value.close()
    assert body["detail"][0]["loc"] == ["query", where]
    if where == "kinds":
        assert "list of alert, detection, event, state" in body["detail"][0]["msg"]


def _drain(client: SseClient) -> None:
    while True:
        client.next()


@pytest.mark.e2e
def test_open_streams_end_when_the_server_is_stopped(database: str) -> None:
    """The API stops on SIGTERM even while a client is listening: the stream ends cleanly
    and the application shuts down (uvicorn then exits by the signal it was sent)."""
    port = free_port()
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": database,
        "LARZA_STREAM_POLL_S": "0.05",
        "LARZA_WEBHOOKS_ENABLED": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app_from_env"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        with sse(port, "/api/v1/stream") as client:
            assert client.next().retry == 2000
            process.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                _drain(client)
        _, log = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
