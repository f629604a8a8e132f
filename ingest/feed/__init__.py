"""The demo/drill SeedLink feed: a SeedLink v3 server and sources of records.

The server (:class:`SeedLinkServer`) only stores and serves records; where they come from is
a :class:`RecordSource`. :class:`SyntheticSource` makes noise, local earthquakes and optional
state-of-health channels for the configured stations; :class:`ReplaySource` re-releases
recorded miniSEED (files or an SDS archive); :class:`FaultySource` injects drill faults
(:class:`Gap`, :class:`DeadChannel`, :class:`GpsUnlock`, ...) into any source.
:class:`Scenario` is a drill's quake with known truth (``larza feed --scenario``).
:func:`serve` runs the synthetic source and a server together in real time,
:func:`serve_source` any source.
"""

from ingest.feed._arrivals import Arrivals, ModelArrivals, StraightRays
from ingest.feed._faults import (
    Clipping,
    CorruptRecord,
    DeadChannel,
    Fault,
    FaultInjector,
    FaultySource,
    FutureTimestamp,
    Gap,
    GpsUnlock,
    SilentStation,
    faults_from_dicts,
    load_faults,
)
from ingest.feed._replay import ReplayMode, ReplaySource, read_files, sds_files
from ingest.feed._scenario import (
    ACCELEROMETER_NOISE,
    Scenario,
    ScenarioSite,
    load_scenario,
    scenario_truth,
    write_truth,
)
from ingest.feed._serve import pump, serve, serve_source
from ingest.feed._server import SeedLinkServer
from ingest.feed._source import ListSource, RecordSource
from ingest.feed._stations import (
    ChannelSpec,
    SohSpec,
    StationSpec,
    centaur_soh,
    default_stations,
)
from ingest.feed._synthetic import SyntheticEvent, SyntheticSource

__all__ = [
    "ACCELEROMETER_NOISE",
    "Arrivals",
    "ChannelSpec",
    "Clipping",
    "CorruptRecord",
    "DeadChannel",
    "Fault",
    "FaultInjector",
    "FaultySource",
    "FutureTimestamp",
    "Gap",
    "GpsUnlock",
    "ListSource",
    "ModelArrivals",
    "RecordSource",
    "ReplayMode",
    "ReplaySource",
    "Scenario",
    "ScenarioSite",
    "SeedLinkServer",
    "SilentStation",
    "SohSpec",
    "StationSpec",
    "StraightRays",
    "SyntheticEvent",
    "SyntheticSource",
    "centaur_soh",
    "default_stations",
    "faults_from_dicts",
    "load_faults",
    "load_scenario",
    "pump",
    "read_files",
    "scenario_truth",
    "sds_files",
    "serve",
    "serve_source",
    "write_truth",
]
