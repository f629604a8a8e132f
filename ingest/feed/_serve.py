"""Run a source and a server together in real time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from ingest.feed._server import SeedLinkServer
from ingest.feed._source import RecordSource
from ingest.feed._stations import StationSpec
from ingest.feed._synthetic import SyntheticSource

logger = logging.getLogger("larza.feed")


async def pump(source: RecordSource, server: SeedLinkServer, interval: float = 0.2) -> None:
    """Publish what ``source`` has ready every ``interval`` seconds, until cancelled."""
    while True:
        for record in source.records_until(time.time()):
            server.publish(record)
        await asyncio.sleep(interval)


async def serve(
    stations: Sequence[StationSpec],
    host: str = "127.0.0.1",
    port: int = 18000,
    seed: int | None = None,
    event_interval: float = 60.0,
    first_event_after: float = 20.0,
    *,
    ring_size: int = 100_000,
    organization: str = "Larza demo feed",
) -> None:
    """Serve synthetic data for ``stations`` over SeedLink v3 until cancelled."""
    source = SyntheticSource(
        stations, seed=seed, event_interval=event_interval, first_event_after=first_event_after
    )
    server = SeedLinkServer(
        host=host,
        port=port,
        ring_size=ring_size,
        organization=organization,
        stations=[(s.network, s.station, s.description) for s in stations],
    )
    await server.start()
    logger.info(
        "feed: synthetic data for %d station(s), seed %d, an earthquake every ~%.0f s",
        len(stations),
        source.seed,
        event_interval,
    )
    reported = float("-inf")
    try:
        while True:
            for record in source.records_until(time.time()):
                server.publish(record)
            for event in source.events:
                if event.origin_time <= reported:
                    continue
                reported = event.origin_time
                logger.info(
                    "feed: synthetic earthquake at %.3f: %.3fN %.3fE %.1f km, amplitude %.0f",
                    event.origin_time,
                    event.latitude,
                    event.longitude,
                    event.depth_km,
                    event.amplitude,
                )
            await asyncio.sleep(0.2)
    finally:
        await server.stop()
