"""One worker, two SeedLink servers and per-station streams from larza.toml, tried as an
operator would: each station is read from its own server with its own selectors, and its
position is stored per server. Real processes and sockets on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from stations.db import make_engine, make_session_factory
from stations.models import ChannelStatus, StreamState
from stations.queries import channel_index

from ..conftest import Made, ServerThread
from .test_worker_restart import db_url  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e


def test_stations_from_two_servers_with_their_own_streams(
    db_url: str,  # noqa: F811
    server_factory: Callable[..., ServerThread],
    made: Made,
    tmp_path: Path,
) -> None:
    first, second = server_factory(), server_factory()
    a, b = f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"
    config = tmp_path / "larza.toml"
    config.write_text(
        f'[stations."TJ.MANEM"]\nserver = "{b}"\n\n[stations."TJ.MURGH"]\nselectors = "HHZ"\n'
    )
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": db_url,
        "LARZA_ARCHIVE_DIR": "",
        "LARZA_CONFIG": str(config),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "worker", "--seedlink", a],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        # A new client without stored positions asks for new data only: publish once both
        # servers have their client.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            first.server.client_count and second.server.client_count
        ):
            time.sleep(0.1)
        time.sleep(0.5)
        first.publish(made.records)
        second.publish(made.records)
        deadline = time.monotonic() + 90
        states: dict[tuple[str, str], str] = {}
        while time.monotonic() < deadline:
            with factory() as s:
                states = {(r.station, r.server): r.server for r in s.scalars(select(StreamState))}
            if {("SAREZ", a), ("MURGH", a), ("MANEM", b)} <= set(states):
                break
            time.sleep(0.5)
        assert {("SAREZ", a), ("MURGH", a), ("MANEM", b)} <= set(states), log.read_text()[-3000:]
        assert ("MANEM", a) not in states
        assert ("SAREZ", b) not in states
        # MURGH asked for HHZ only: its other channels never arrive.
        time.sleep(3)
        with factory() as s:
            channels = {str(k): c.id for k, c in channel_index(s).items()}
            seen = {r.channel_id for r in s.scalars(select(ChannelStatus))}
        assert channels["TJ.MURGH..HHZ"] in seen
        assert channels["TJ.MURGH..HHN"] not in seen
        assert channels["TJ.MANEM..HNE"] in seen
        assert "reading from" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        engine.dispose()
