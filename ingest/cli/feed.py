"""What ``larza feed`` runs: synthetic data or a replay, with optional drill faults and SOH."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingest.feed import (
    Fault,
    FaultySource,
    ReplayMode,
    ReplaySource,
    centaur_soh,
    load_faults,
    serve,
    serve_source,
)
from ingest.feed.inventory import station_specs
from stations.errors import ConfigurationError


@dataclass(frozen=True)
class FeedOptions:
    inventory: Path
    host: str = "127.0.0.1"
    port: int = 18000
    seed: int | None = None
    event_interval: float = 60.0
    first_event_after: float = 20.0
    ring_size: int = 100_000
    faults: Path | None = None
    soh_rate: float | None = None  # None: no state-of-health channels
    replay: tuple[Path, ...] = field(default_factory=tuple)
    sds: Path | None = None
    begin: datetime | None = None
    end: datetime | None = None
    replay_mode: ReplayMode = "realtime"
    ring_file: Path | None = None
    record_seconds: float = 4.0
    reach_km: float | None = None


def run_feed(options: FeedOptions) -> None:
    """Serve until interrupted; configuration errors raise ``ConfigurationError``."""
    faults = load_faults(options.faults) if options.faults else []
    if options.replay or options.sds:
        asyncio.run(_replay(options, faults))
        return
    soh = centaur_soh(options.soh_rate) if options.soh_rate else ()
    asyncio.run(
        serve(
            station_specs(options.inventory),
            host=options.host,
            port=options.port,
            seed=options.seed,
            event_interval=options.event_interval,
            first_event_after=options.first_event_after,
            ring_size=options.ring_size,
            faults=faults,
            soh=soh,
            ring_file=options.ring_file,
            record_seconds=options.record_seconds,
            reach_km=options.reach_km,
        )
    )


async def _replay(options: FeedOptions, faults: Sequence[Fault]) -> None:
    if options.replay and options.sds:
        raise ConfigurationError("larza feed", "give --replay files or --sds, not both")
    if options.sds:
        if options.begin is None or options.end is None:
            raise ConfigurationError("larza feed", "--sds needs --begin and --end")
        replay = ReplaySource.from_sds(
            options.sds, options.begin.timestamp(), options.end.timestamp(), options.replay_mode
        )
    else:
        replay = ReplaySource.from_files(list(options.replay), options.replay_mode)
    source = FaultySource(replay, faults) if faults else replay
    await serve_source(
        source,
        [(n, s, "") for n, s in replay.stations],
        host=options.host,
        port=options.port,
        ring_size=options.ring_size,
        ring_file=options.ring_file,
    )
