"""The API under load: 64 clients at once against a real ``larza api`` process get answers,
never a server error; a database pool that truly runs dry is 503 with Retry-After."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory
from stations.health import ChannelReport, save_channel_health, save_station_state
from stations.models import EventStatus, HealthState, Station
from stations.queries import channel_index, record_arrivals, store_detection, store_event

from ..conftest import free_port
from .test_stream import prepared

CLIENTS = 64
PATHS = (
    # Routes whose answer is validated and serialised in a thread after the route returns
    # (the connection of a session closed only then was wanted by routes waiting for it).
    "/api/v1/stations",
    "/api/v1/stations/TJ.SAREZ",
    "/api/v1/stations/TJ.MURGH/acknowledgements",
    "/api/v1/events/1",
    # and some that are not
    "/api/v1/detections?limit=100",
    "/metrics",
)


@contextmanager
def larza_api(url: str, log: Path, *extra: str) -> Iterator[int]:
    """``larza api`` on a loopback port, as an operator starts it; yields the port."""
    port = free_port()
    env = {**os.environ, "LARZA_DATABASE_URL": url, "LARZA_WEBHOOKS_ENABLED": "false"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "api", "--port", str(port), *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
            finally:
                conn.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def evaluated(url: str) -> None:
    """Data, a health evaluation round for every station and an event, as a worker stores
    them."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with make_session_factory(engine)() as s, s.begin():
        channels = list(channel_index(s).values())
        record_arrivals(
            s, arrivals={c.id: (now - timedelta(seconds=3), 10) for c in channels}, arrival_time=now
        )
        save_channel_health(
            s,
            reports=[
                ChannelReport(c.id, HealthState.OK, "", {"availability_pct": 100.0})
                for c in channels
            ],
            now=now,
        )
        detection = store_detection(
            s,
            channel_id=channels[0].id,
            on_time=now,
            off_time=now + timedelta(seconds=5),
            onset_time=now,
            peak_ratio=5.0,
            snr=6.0,
            peak_amplitude=900.0,
            profile="default",
            now=now,
        )
        store_event(
            s,
            event_id=None,
            time=now,
            status=EventStatus.PRELIMINARY,
            n_stations=1,
            coincidence_sum=1.0,
            duration=5.0,
            detection_ids=[detection.id],
            now=now,
        )
        for station in s.scalars(select(Station)):
            save_station_state(s, station_id=station.id, state=HealthState.OK, reason="", now=now)
    engine.dispose()


def hammer(port: int, rounds: int) -> Counter[str]:
    """``CLIENTS`` keep-alive clients, released together, each asking every path of
    ``PATHS`` ``rounds`` times; the statuses (or errors) counted."""
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: Counter[str] = Counter()
        start.wait()
        for i in range(rounds * len(PATHS)):
            path = PATHS[(k + i) % len(PATHS)]
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                mine[str(response.status)] += 1
                if response.status >= 500:
                    mine[f"{response.status} {path}: {body[:200]!r}"] += 1
            except OSError as e:
                mine[f"{type(e).__name__} {path}"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.close()
        with lock:
            statuses.update(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.e2e
def test_64_clients_at_once_get_answers_not_server_errors(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """64 connections released at once, reads that hold a database connection among them
    (before: the station list alone answered 500 "QueuePool limit ... reached" to half of
    them after 30 s)."""
    url = prepared(fresh_database_url)
    evaluated(url)
    log = tmp_path / "api.log"
    with larza_api(url, log) as port:
        statuses = hammer(port, rounds=4)
    assert statuses == Counter({"200": CLIENTS * 4 * len(PATHS)}), statuses
    assert "Traceback" not in log.read_text()


@pytest.mark.e2e
def test_several_worker_processes_answer_on_one_port(
    fresh_database_url: str, tmp_path: Path
) -> None:
    url = prepared(fresh_database_url)
    evaluated(url)
    log = tmp_path / "api.log"
    with larza_api(url, log, "--workers", "2") as port:
        statuses = hammer(port, rounds=1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/stations")
        stations = json.loads(conn.getresponse().read())
        conn.close()
    assert statuses == Counter({"200": CLIENTS * len(PATHS)}), statuses
    assert [s["id"] for s in stations] == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    assert {s["state"] for s in stations} == {"OK"}
    assert log.read_text().count("Application startup complete") == 2


def test_a_pool_run_dry_is_503_with_retry_after(database_url: str, engine: Engine) -> None:
    """Every connection of the API's pool held elsewhere: a read waits
    ``api_pool_timeout_s`` and is told to come back, not that the API failed."""
    settings = ApiSettings(
        database_url=database_url,
        api_threads=1,
        api_pool_timeout_s=0.2,
        webhooks_enabled=False,
        stream_poll_s=60,
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.watcher.stop()  # type: ignore[attr-defined]
        bound = client.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
        held = []
        try:
            while bound.pool.checkedout() < bound.pool.size() + bound.pool._max_overflow:
                held.append(bound.connect())
            response = client.get("/api/v1/detections")
        finally:
            for connection in held:
                connection.close()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "every database connection is in use" in response.json()["detail"]
        assert client.get("/api/v1/detections").status_code == 200
