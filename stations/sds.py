"""Where a record lives in Larza's SDS archive.

Layout ``YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY`` (SeisComP, ObsPy's SDS client),
relative to the archive root: the ingest worker writes these day files and the API's
dataselect service reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stations.queries import ChannelKey

__all__ = ["sds_path"]


def sds_path(key: ChannelKey, starttime: float) -> str:
    """The SDS path (relative to the archive root) of the day file holding ``starttime``."""
    day = datetime.fromtimestamp(starttime, UTC)
    year, doy = day.year, day.timetuple().tm_yday
    name = f"{key.network}.{key.station}.{key.location}.{key.channel}.D.{year}.{doy:03d}"
    return f"{year}/{key.network}/{key.station}/{key.channel}.D/{name}"
