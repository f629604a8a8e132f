"""What ``larza feed`` runs: synthetic data, a scenario quake or a replay, with optional drill
faults and SOH."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from detection import OnsiteConfig
from ingest.config import LarzaConfig, load_config
from ingest.feed import (
    ACCELEROMETER_NOISE,
    Arrivals,
    Fault,
    FaultySource,
    ModelArrivals,
    ReplayMode,
    ReplaySource,
    Scenario,
    ScenarioSite,
    StationSpec,
    SyntheticEvent,
    centaur_soh,
    load_faults,
    load_scenario,
    scenario_truth,
    serve,
    serve_source,
    write_truth,
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
    config: Path | None = None
    """The worker's larza.toml: its ``[velocity_model]`` times the quakes (None: straight
    rays at 6.0/3.5 km/s, or for a scenario the default model)."""
    scenario: Path | None = None
    truth: Path = Path("var/drill-truth.json")


log = logging.getLogger("larza.feed")


def run_feed(options: FeedOptions) -> None:
    """Serve until interrupted; configuration errors raise ``ConfigurationError``."""
    faults = load_faults(options.faults) if options.faults else []
    if options.replay or options.sds:
        if options.scenario:
            raise ConfigurationError("larza feed", "give --scenario or a replay, not both")
        asyncio.run(_replay(options, faults))
        return
    soh = centaur_soh(options.soh_rate) if options.soh_rate else ()
    stations = station_specs(options.inventory)
    scenario = None
    if options.scenario is not None:
        scenario = load_scenario(options.scenario)
        stations = scenario.select(stations, str(options.scenario))
        if scenario.origin_time(time.time()) < time.time():
            raise ConfigurationError(
                str(options.scenario), "the origin time is before the feed starts"
            )
    arrivals = _arrivals(options)
    quakes = []
    start = None
    noise, accelerometer_noise = 1.0, None
    if scenario is not None:
        assert isinstance(arrivals, ModelArrivals)
        start = float(math.floor(time.time()))
        quakes.append(_truth(options, scenario, stations, arrivals, start))
        noise, accelerometer_noise = scenario.noise, ACCELEROMETER_NOISE
    asyncio.run(
        serve(
            stations,
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
            arrivals=arrivals,
            quakes=quakes,
            random_quakes=not quakes,
            noise=noise,
            accelerometer_noise=accelerometer_noise,
            start=start,
        )
    )


def _truth(
    options: FeedOptions,
    scenario: Scenario,
    stations: Sequence[StationSpec],
    arrivals: ModelArrivals,
    start: float,
) -> SyntheticEvent:
    """The scenario's quake, its truth written to ``options.truth`` first."""
    if scenario.depth_km > arrivals.table.max_depth_km:
        raise ConfigurationError(
            str(options.scenario),
            f"depth_km {scenario.depth_km} is below the travel-time table's "
            f"{arrivals.table.max_depth_km} km ([velocity_model] max_depth_km)",
        )
    config = load_config(options.config) if options.config else LarzaConfig()
    truth = scenario_truth(
        scenario,
        start=start,
        stations=stations,
        arrivals=arrivals,
        sites=[ScenarioSite(s.name, s.latitude, s.longitude) for s in config.alerts.sites],
        min_stations=config.alerts.min_stations,
        min_window_s=OnsiteConfig().min_window_s,
        source=str(options.scenario),
    )
    write_truth(options.truth, truth)
    log.info(
        "feed: scenario %r, origin %s; its truth is in %s",
        scenario.name,
        truth["origin_time"],
        options.truth,
    )
    return scenario.event(start)


def _arrivals(options: FeedOptions) -> Arrivals | None:
    """The configured model's travel times when a larza.toml is given (or for a scenario,
    the default model's); otherwise None, the source's straight rays."""
    if options.config is None and options.scenario is None:
        return None
    from ingest.quakes.model import travel_time_table  # ObsPy's TauP: only when needed

    config = load_config(options.config) if options.config else LarzaConfig()
    log.info("feed: travel times of the velocity model (built with TauP unless cached)")
    return ModelArrivals(travel_time_table(config))


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
