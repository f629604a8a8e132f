"""The SDS archive: every record written once, byte for byte as received.

Layout ``YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY`` (SeisComP, ObsPy's SDS client).
Records are appended before the transaction that stores their results commits, and that
transaction also stores each file's new committed size. After a crash a file may be longer
than its committed size; those bytes are records whose results were not kept, so they are cut
off before the next append, and the records (re-sent on resume) are written exactly once.

Usage, once per transaction::

    archive.append(session, key=..., starttime=..., record=raw)   # any number of times
    archive.store_index(session, now=...)                         # inside the transaction
    archive.committed()   # after it commits     (or archive.rolled_back() if it did not)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from ingest.seedlink.decode import RecordError, decode_record, split_records
from stations.queries import ChannelKey, add_archived_records, archive_file_sizes
from stations.sds import sds_path

log = logging.getLogger(__name__)


class SdsArchive:
    """Appends records to day files under ``root``, keeping committed sizes in the database.

    Committed sizes are read from the database once per file and then kept in memory;
    appends of the current transaction are pending until ``committed()``. Files stay open
    between appends (at most ``max_open``; the least recently used are closed first: the
    worker makes it as large as the process's descriptor limit allows, so a file per
    channel stays open).
    """

    def __init__(self, root: Path, *, max_open: int = 1024) -> None:
        self.root = root
        self._max_open = max_open
        self._committed: dict[str, int] = {}
        self._pending: dict[str, tuple[int, int]] = {}  # path -> (size, records added)
        self._open: dict[str, int] = {}  # path -> descriptor, checked against its size
        self._paths: dict[tuple[ChannelKey, int], str] = {}  # (channel, day) -> path

    def path_of(self, key: ChannelKey, starttime: float) -> str:
        """The relative path of the day file holding ``starttime``."""
        day = int(starttime // 86400)
        relative = self._paths.get((key, day))
        if relative is None:
            if len(self._paths) >= 4 * self._max_open:
                self._paths.clear()
            relative = self._paths[(key, day)] = sds_path(key, starttime)
        return relative

    def append(self, session: Session, *, key: ChannelKey, starttime: float, record: bytes) -> str:
        """Append ``record`` to its day file; returns the file's relative path."""
        relative = self.path_of(key, starttime)
        pending = self._pending.get(relative)
        expected, added = pending if pending is not None else (self._size(session, relative), 0)
        fd = self._open.pop(relative, None)
        if fd is None:
            fd, expected = self._open_checked(relative, expected)
        self._open[relative] = fd  # the most recently used last: the least is closed first
        written = os.pwrite(fd, record, expected)
        if written != len(record):
            self._close(relative)
            raise OSError(f"{relative}: short write ({written} of {len(record)} bytes)")
        self._pending[relative] = (expected + len(record), added + 1)
        return relative

    def prefetch(self, session: Session, relative: Iterable[str]) -> None:
        """Learn the committed sizes of the files a batch will append to, in one query (a
        worker's first records, or a new day, touch thousands of files at once)."""
        unknown = {r for r in relative if r not in self._committed and r not in self._pending}
        if unknown:
            sizes = archive_file_sizes(session, paths=unknown)
            for r in unknown:
                self._committed[r] = sizes.get(r, 0)

    def _size(self, session: Session, relative: str) -> int:
        """The file's size as this transaction sees it: committed plus pending appends."""
        pending = self._pending.get(relative)
        if pending is not None:
            return pending[0]
        if relative not in self._committed:
            sizes = archive_file_sizes(session, paths=[relative])
            self._committed[relative] = sizes.get(relative, 0)
        return self._committed[relative]

    def read_tail(
        self, session: Session, *, key: ChannelKey, time: float, max_bytes: int
    ) -> list[bytes]:
        """The last whole records (about ``max_bytes``) of the channel's day file holding
        ``time``, as far as they are committed (or appended by this transaction): bytes past
        the committed size are a crash's leftover, never data. Oldest first."""
        relative = self.path_of(key, time)
        size = self._size(session, relative)
        if size == 0:
            return []
        path = self.root / relative
        try:
            with path.open("rb") as f:
                # Records from SeedLink are 512 bytes: a tail that starts on a multiple of 512
                # is whole records unless the file holds records of other lengths.
                start = max(0, size - max_bytes) // 512 * 512
                f.seek(start)
                data = f.read(size - start)
                records = split_records(data) if len(data) == size - start else None
                if records is None and start > 0:
                    f.seek(0)
                    data = f.read(size)
                    records = split_records(data) if len(data) == size else None
        except FileNotFoundError:
            records = None
        if records is None:
            log.error("%s: the committed part is not whole miniSEED records", relative)
            return []
        return records

    def read_back(
        self, session: Session, *, key: ChannelKey, start: float, end: float, max_bytes: int
    ) -> list[bytes]:
        """The channel's committed records overlapping ``start`` .. ``end`` (POSIX s), from
        the last ``max_bytes`` of the day files concerned, oldest first."""
        days = range(int(start // 86400), int(end // 86400) + 1)
        found: list[tuple[float, bytes]] = []
        for day in days:
            for raw in self.read_tail(
                session, key=key, time=max(start, day * 86400.0), max_bytes=max_bytes
            ):
                try:
                    record = decode_record(raw)
                except RecordError:
                    continue
                if record.key == key and record.endtime >= start and record.starttime < end:
                    found.append((record.starttime, raw))
        found.sort(key=lambda item: item[0])
        return [raw for _, raw in found]

    def _open_checked(self, relative: str, expected: int) -> tuple[int, int]:
        """Open a day file, cutting bytes past its committed size (a crash's leftover);
        the descriptor and the offset to append at."""
        if len(self._open) >= self._max_open:
            self._close(next(iter(self._open)))
        path = self.root / relative
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            actual = os.fstat(fd).st_size
            if actual > expected:
                log.warning(
                    "%s: cutting %d bytes written after the last commit (a crash's leftover)",
                    relative,
                    actual - expected,
                )
                os.ftruncate(fd, expected)
            elif actual < expected:
                log.error(
                    "%s: file has %d bytes but %d were committed: it was truncated outside Larza",
                    relative,
                    actual,
                    expected,
                )
                expected = actual
        except BaseException:
            os.close(fd)
            raise
        self._open[relative] = fd
        return fd, expected

    def _close(self, relative: str) -> None:
        fd = self._open.pop(relative, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close the open day files (the worker's shutdown)."""
        for relative in list(self._open):
            self._close(relative)

    def forget(self) -> None:
        """Drop what is known of the files (between transactions): another worker may have
        appended to them while this one did not hold their stations."""
        self.close()
        self._committed.clear()
        self._pending.clear()

    def store_index(self, session: Session, *, now: datetime) -> None:
        """Write the pending files' new sizes in ``session``'s transaction."""
        add_archived_records(session, files=self._pending, now=now)

    def committed(self) -> None:
        """The transaction committed: pending sizes are now the committed ones."""
        for path, (size, _added) in self._pending.items():
            self._committed[path] = size
        self._pending.clear()

    def rolled_back(self) -> None:
        """The transaction failed: forget pending sizes; the files it appended to are closed,
        so their uncommitted bytes are cut when next opened."""
        for relative in self._pending:
            self._close(relative)
        self._pending.clear()
