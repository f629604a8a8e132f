"""An alerting script polls /api/v1/events with its cursor while events keep coming and the
API process is restarted twice: it sees every event exactly once, tried as a script author
would (a real `larza api` process on loopback, plain HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import EventStatus
from stations.queries import channel_index, store_detection, store_event

from ..conftest import free_port

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@contextmanager
def api_process(url: str, log: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "LARZA_DATABASE_URL": url, "LARZA_WEBHOOKS_ENABLED": "false"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def add_events(factory: sessionmaker[Session], first: int, count: int) -> None:
    with factory() as s, s.begin():
        channel = next(iter(channel_index(s).values()))
        for i in range(first, first + count):
            t = T0 + timedelta(minutes=i)
            d = store_detection(
                s,
                channel_id=channel.id,
                on_time=t,
                off_time=t + timedelta(seconds=5),
                onset_time=t,
                peak_ratio=5.0,
                snr=6.0,
                peak_amplitude=900.0,
                profile="default",
                now=t,
            )
            store_event(
                s,
                event_id=None,
                time=t,
                status=EventStatus.PRELIMINARY,
                n_stations=3,
                coincidence_sum=3.0,
                duration=4.0,
                detection_ids=[d.id],
                now=t,
            )


def poll(base: str, cursor: int | None) -> tuple[list[int], int | None]:
    """One round of a poller: follow pages from its cursor to the end; the ids and the new
    cursor (kept by the script in its own file between rounds)."""
    seen: list[int] = []
    url = f"{base}/api/v1/events?limit=7" + (f"&after={cursor}" if cursor is not None else "")
    while True:
        with urllib.request.urlopen(url, timeout=10) as response:
            page = json.load(response)
        if not page["items"]:
            return seen, cursor
        seen += [e["id"] for e in page["items"]]
        cursor = page["items"][-1]["id"]
        url = page["next"].replace("http://testserver", base)


def test_a_poller_sees_every_event_once_across_api_restarts(
    fresh_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    log = tmp_path / "api.log"
    seen: list[int] = []
    cursor: int | None = None
    added = 0
    for _restart in range(3):
        with api_process(fresh_database_url, log) as base:
            for _ in range(3):
                add_events(factory, added, 11)  # more than a page, between polls
                added += 11
                got, cursor = poll(base, cursor)
                seen += got
        add_events(factory, added, 5)  # while the API is down
        added += 5
    with api_process(fresh_database_url, log) as base:
        got, cursor = poll(base, cursor)
        seen += got
        again, _ = poll(base, cursor)
    engine.dispose()
    assert len(seen) == added == 3 * (3 * 11 + 5)
    assert len(set(seen)) == len(seen)  # nothing twice
    assert seen == sorted(seen)
    assert again == []
