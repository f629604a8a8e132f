"""The v3 sequence wrap: a station whose last stored packet is numbered FFFFFF resumes with
the packets after it, from Larza's feed over a real loopback socket."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ingest.feed._mseed import record_info
from ingest.seedlink.source import SeedLinkSource
from stations.queries import StreamPosition

from ..conftest import Made, ServerThread


@pytest.mark.parametrize("protocol", ["3", "4"])
def test_a_station_resumes_after_sequence_ffffff(
    server_factory: Callable[..., ServerThread], made: Made, protocol: str
) -> None:
    feed = server_factory()
    sarez = [r for r in made.records if r[8:13] == b"SAREZ"][:6]
    feed.server.ring.add_station("TJ", "SAREZ", next_seq=0xFFFFFD)
    assert feed.publish(sarez)  # numbered FFFFFD, FFFFFE, FFFFFF, then 1, 2, 3
    source = SeedLinkSource(
        f"127.0.0.1:{feed.port}",
        [("TJ", "SAREZ")],
        "",
        # the position as the worker stores it: FFFFFF and its record's start time
        {("TJ", "SAREZ"): StreamPosition(0xFFFFFF, _start(sarez[2]))},
        keepalive_s=5.0,
        idle_timeout_s=10.0,
        reconnect_delay_s=0.2,
        protocol=protocol,  # type: ignore[arg-type]
    )
    received: list[bytes] = []

    def read() -> None:
        for packet in source.packets():
            received.append(packet.payload)
            if packet.payload == sarez[-1]:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    source.close()
    assert not reader.is_alive(), f"no resume past FFFFFF: got {len(received)} packets"
    assert received == sarez[3:]  # the packets after FFFFFF, each once


def _start(record: bytes) -> datetime:
    return datetime.fromtimestamp(record_info(record).start_ns / 1e9, tz=UTC)
