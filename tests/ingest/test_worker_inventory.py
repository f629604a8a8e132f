"""A station imported while the worker runs is ingested without a restart, tried as an
operator would: the inventory grows under a running worker. Real processes and sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import obspy
import pytest
from sqlalchemy import select

from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ChannelStatus, StreamState
from stations.queries import channel_index

from ..conftest import Made, ServerThread

pytestmark = pytest.mark.e2e


def test_a_station_imported_while_running_is_ingested(
    fresh_database_url: str,
    server_factory: Callable[..., ServerThread],
    made: Made,
    tmp_path: Path,
) -> None:
    everything = obspy.read_inventory(str(default_inventory_path()))
    first = everything.select(station="SAREZ")
    first.write(str(tmp_path / "sarez.xml"), format="STATIONXML")
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, tmp_path / "sarez.xml")
    server = server_factory()
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": fresh_database_url,
        "LARZA_ARCHIVE_DIR": "",
        "LARZA_INVENTORY_INTERVAL_S": "1",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "worker", "--seedlink", f"127.0.0.1:{server.port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stations() -> set[str]:
        """Stations whose records were processed: read from the server (a stream position)
        and taken for a channel of the inventory (an arrival counted)."""
        with factory() as s:
            read = {r.station for r in s.scalars(select(StreamState))}
            counted = set(s.scalars(select(ChannelStatus.channel_id)))
            known = {k.station for k, c in channel_index(s).items() if c.id in counted}
        return read & known

    def publish_until(wanted: set[str], records: list[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for i in range(0, len(records), 30):
            server.publish(records[i : i + 30])
            if wanted <= stations() or time.monotonic() > deadline:
                return
            time.sleep(0.3)

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not server.server.client_count:
            time.sleep(0.1)
        time.sleep(0.5)  # a new client asks for new data only
        half = len(made.records) // 2
        publish_until({"SAREZ"}, made.records[:half], 30)
        assert stations() == {"SAREZ"}, log.read_text()[-3000:]

        with factory() as s, s.begin():
            import_stationxml(s, default_inventory_path())
        publish_until({"SAREZ", "MURGH", "MANEM"}, made.records[half:], 60)
        assert stations() == {"SAREZ", "MURGH", "MANEM"}, log.read_text()[-3000:]
        assert "new in the inventory: stations TJ.MANEM, TJ.MURGH" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        engine.dispose()
