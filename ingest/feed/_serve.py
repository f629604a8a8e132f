"""Run a source and a server together in real time."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.feed._arrivals import Arrivals
from ingest.feed._faults import Fault
from ingest.feed._server import SeedLinkServer
from ingest.feed._source import RecordSource
from ingest.feed._stations import SohSpec, StationSpec
from ingest.feed._synthetic import SyntheticEvent, SyntheticSource
from ingest.longlived import LongLived

logger = logging.getLogger("larza.feed")


async def pump(source: RecordSource, server: SeedLinkServer, interval: float = 0.2) -> None:
    """Publish what ``source`` has ready every ``interval`` seconds, until cancelled."""
    while True:
        for record in source.records_until(time.time()):
            server.publish(record)
        await asyncio.sleep(interval)


async def serve_source(
    source: RecordSource,
    stations: Sequence[tuple[str, str, str]] = (),
    host: str = "127.0.0.1",
    port: int = 18000,
    *,
    ring_size: int = 100_000,
    organization: str = "Larza demo feed",
    interval: float = 0.2,
    on_tick: Callable[[], None] | None = None,
    ring_file: Path | None = None,
) -> None:
    """Serve what ``source`` releases over SeedLink until cancelled.

    ``stations`` are ``(network, station, description)`` known before their first record
    (a client may select them at once); ``on_tick`` runs after every publication round;
    ``ring_file`` keeps the ring across restarts (loaded at start, saved at stop).
    """
    server = SeedLinkServer(
        host=host,
        port=port,
        ring_size=ring_size,
        organization=organization,
        stations=list(stations),
        ring_file=ring_file,
    )
    await server.start()
    longlived = LongLived("feed")
    longlived.start()
    try:
        while True:
            for record in source.records_until(time.time()):
                server.publish(record)
            if on_tick is not None:
                on_tick()
            longlived.settle()
            await asyncio.sleep(interval)
    finally:
        longlived.stop()
        await server.stop()


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
    faults: Sequence[Fault] = (),
    soh: Sequence[SohSpec] = (),
    ring_file: Path | None = None,
    record_seconds: float = 4.0,
    reach_km: float | None = None,
    arrivals: Arrivals | None = None,
    quakes: Sequence[SyntheticEvent] = (),
    random_quakes: bool = True,
    noise: float = 1.0,
    accelerometer_noise: float | None = None,
    start: float | None = None,
) -> None:
    """Serve synthetic data for ``stations`` over SeedLink until cancelled.

    ``faults`` are injected (windows in seconds after the start); ``soh`` channels are added
    to every station that has none of its own. A record is sent once full or once its first
    sample is ``record_seconds`` old (short records, as early-warning telemetry sends);
    earthquakes reach stations within ``reach_km`` of their epicentre (None: all), at the
    travel times of ``arrivals`` (straight rays by default). ``quakes`` are played at their
    origin times (a scenario), beside random ones unless ``random_quakes`` is False; see
    :class:`SyntheticSource` for ``noise``, ``accelerometer_noise`` and ``start``.
    """
    if soh:
        stations = [s if s.soh else dataclasses.replace(s, soh=tuple(soh)) for s in stations]
    source = SyntheticSource(
        stations,
        seed=seed,
        event_interval=event_interval,
        first_event_after=first_event_after,
        faults=faults,
        flush_after=record_seconds,
        reach_km=reach_km,
        arrivals=arrivals,
        quakes=quakes,
        random_quakes=random_quakes,
        noise=noise,
        accelerometer_noise=accelerometer_noise,
        start=start,
    )
    logger.info(
        "feed: synthetic data for %d station(s), seed %d, %s, %d fault(s), travel times: %s",
        len(stations),
        source.seed,
        f"an earthquake every ~{event_interval:.0f} s" if random_quakes else "no random quake",
        len(faults),
        source.arrivals.name,
    )
    reported = float("-inf")

    def report() -> None:
        nonlocal reported
        for event in source.events:
            if event.origin_time <= reported:
                continue
            reported = event.origin_time
            if event.magnitude is not None:
                logger.info(
                    "feed: scenario earthquake at %.3f: %.3fN %.3fE %.1f km, M %.1f",
                    event.origin_time,
                    event.latitude,
                    event.longitude,
                    event.depth_km,
                    event.magnitude,
                )
                continue
            logger.info(
                "feed: synthetic earthquake at %.3f: %.3fN %.3fE %.1f km, amplitude %.0f",
                event.origin_time,
                event.latitude,
                event.longitude,
                event.depth_km,
                event.amplitude,
            )

    await serve_source(
        source,
        [(s.network, s.station, s.description) for s in stations],
        host,
        port,
        ring_size=ring_size,
        organization=organization,
        on_tick=report,
        ring_file=ring_file,
    )
