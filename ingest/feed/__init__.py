"""The demo/drill SeedLink feed: a SeedLink v3 server and a synthetic source of records.

The server (:class:`SeedLinkServer`) only stores and serves records; where they come from is
a :class:`RecordSource`. :class:`SyntheticSource` makes noise and local earthquakes for the
configured stations; :func:`serve` runs a source and a server together in real time.
"""

from ingest.feed._serve import pump, serve
from ingest.feed._server import SeedLinkServer
from ingest.feed._source import ListSource, RecordSource
from ingest.feed._stations import ChannelSpec, StationSpec, default_stations
from ingest.feed._synthetic import SyntheticEvent, SyntheticSource

__all__ = [
    "ChannelSpec",
    "ListSource",
    "RecordSource",
    "SeedLinkServer",
    "StationSpec",
    "SyntheticEvent",
    "SyntheticSource",
    "default_stations",
    "pump",
    "serve",
]
