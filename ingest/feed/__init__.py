"""The demo/drill SeedLink feed: a SeedLink v3 server and sources of records.

The server (:class:`SeedLinkServer`) only stores and serves records; where they come from is
a :class:`RecordSource`. :class:`SyntheticSource` makes noise, local earthquakes and optional
state-of-health channels for the configured stations; :class:`ReplaySource` re-releases
recorded miniSEED (files or an SDS archive); :class:`FaultySource` injects drill faults
(:class:`Gap`, :class:`DeadChannel`, :class:`GpsUnlock`, ...) into any source.
:func:`serve` runs the synthetic source and a server together in real time,
:func:`serve_source` any source.
"""

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
    "RecordSource",
    "ReplayMode",
    "ReplaySource",
    "SeedLinkServer",
    "SilentStation",
    "SohSpec",
    "StationSpec",
    "SyntheticEvent",
    "SyntheticSource",
    "centaur_soh",
    "default_stations",
    "faults_from_dicts",
    "load_faults",
    "pump",
    "read_files",
    "sds_files",
    "serve",
    "serve_source",
]
