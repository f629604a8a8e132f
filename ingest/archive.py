"""The SDS archive: every record written once, byte for byte as received.

Layout ``YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY`` (SeisComP, ObsPy's SDS client).
A record is appended before the transaction that stores its results commits, and that
transaction also stores the file's new committed size. After a crash the file may be longer
than its committed size; those bytes are a record whose results were not kept, so they are cut
off before the next append, and the record (re-sent on resume) is written exactly once.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from stations.queries import ChannelKey, add_archived_record, archive_file_size

log = logging.getLogger(__name__)


def sds_path(key: ChannelKey, starttime: float) -> str:
    """The SDS path (relative to the archive root) of the day file holding ``starttime``."""
    day = datetime.fromtimestamp(starttime, UTC)
    year, doy = day.year, day.timetuple().tm_yday
    name = f"{key.network}.{key.station}.{key.location}.{key.channel}.D.{year}.{doy:03d}"
    return f"{year}/{key.network}/{key.station}/{key.channel}.D/{name}"


class SdsArchive:
    """Appends records to day files under ``root``, keeping committed sizes in the database."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def append(
        self, session: Session, *, key: ChannelKey, starttime: float, record: bytes, now: datetime
    ) -> str:
        """Append ``record`` to its day file; the size is stored in ``session``'s transaction."""
        relative = sds_path(key, starttime)
        path = self.root / relative
        committed = archive_file_size(session, path=relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            actual = os.fstat(fd).st_size
            if actual > committed:
                log.warning(
                    "%s: cutting %d bytes written after the last commit (a crash's leftover)",
                    relative,
                    actual - committed,
                )
                os.ftruncate(fd, committed)
            elif actual < committed:
                log.error(
                    "%s: file has %d bytes but %d were committed: it was truncated outside Larza",
                    relative,
                    actual,
                    committed,
                )
                committed = actual
            os.lseek(fd, committed, os.SEEK_SET)
            written = os.write(fd, record)
            if written != len(record):
                raise OSError(f"{relative}: short write ({written} of {len(record)} bytes)")
        finally:
            os.close(fd)
        add_archived_record(session, path=relative, size=committed + len(record), now=now)
        return relative
