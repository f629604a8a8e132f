"""What each channel has received: the identity of its recent records and its newest data.

A record is identified by its channel, its start time and its bytes. Only a true repeat of a
record already taken (a server resending what it sent before, as it does when a client resumes
by time) is skipped; a record that starts before the channel's newest data but is not one
already taken (a late or backfilled record, or one stamped by a clock that jumped back) is
new data and is archived. Records are never judged by their time alone.

The identities of a channel's last records are kept in memory; after a restart (or when the
stations held change) they are read back from the tail of the channel's archive day file, as
far as it is committed, so a resend right after a restart is still recognised. An older record
is looked up in its whole day file (an index kept for a few files at a time).

The ledger also finds gaps: a record starting more than one and a half sample intervals after
the channel's newest data leaves a gap, "resume" if it is the channel's first record since the
ledger (re)started (the span fell while the worker was not reading), else "stream".
"""

from __future__ import annotations

import enum
import logging
import zlib
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ingest.seedlink.decode import Record, RecordError, decode_record
from ingest.worker.archive import SdsArchive
from stations.queries import ChannelKey

log = logging.getLogger(__name__)

Identity = int
"""A record's start time in microseconds and the CRC-32 of its bytes, in one number."""

RECENT = 16
"""Identities kept per channel: about a minute of 512-byte records at 100 sps, far more than
a server resends when a client resumes by time (the records ending after its last start)."""
TAIL_BYTES = RECENT * 512
FILES_INDEXED = 16
"""Whole day files whose identities are kept for looking up older records."""
_DAY_S = 86_400.0


class Kind(enum.Enum):
    NEW = "new"
    """Starts after the channel's newest data (possibly after a gap)."""
    LATE = "late"
    """Starts at or before the newest data and is not a record already taken."""
    REPEAT = "repeat"
    """A record already taken: skipped."""


@dataclass(frozen=True, slots=True)
class Seen:
    kind: Kind
    gap: tuple[float, float] | None = None
    """The last sample before a gap and the first after it (this record's start)."""
    cause: str = "stream"


@dataclass(slots=True)
class _Channel:
    newest: float | None
    recent: deque[Identity] = field(default_factory=lambda: deque(maxlen=RECENT))
    """Looked up in place: a set beside so few would take twice their memory, per channel."""
    fresh: bool = True

    def remember(self, identity: Identity) -> None:
        self.recent.append(identity)


def identity(record: Record, payload: bytes) -> Identity:
    return (round(record.starttime * 1_000_000) << 32) | zlib.crc32(payload)


class Ledger:
    """Per channel: recent identities and newest data, read back from the archive lazily.

    ``newest``: the last sample time per channel known from the database (the channels'
    status), used where the archive is off or holds nothing of a channel.
    """

    def __init__(
        self, archive: SdsArchive | None, newest: Mapping[ChannelKey, float] | None = None
    ) -> None:
        self._archive = archive
        self._known = dict(newest or {})
        self._channels: dict[ChannelKey, _Channel] = {}
        self._files: OrderedDict[str, set[Identity]] = OrderedDict()

    def restart(self, newest: Mapping[ChannelKey, float]) -> None:
        """Forget everything (other workers may have archived meanwhile): channels are read
        back from the archive again at their next record."""
        self._known = dict(newest)
        self._channels.clear()
        self._files.clear()

    def newest(self, key: ChannelKey) -> float | None:
        """The last sample time of the channel's newest data taken, if known."""
        channel = self._channels.get(key)
        return channel.newest if channel is not None else self._known.get(key)

    def see(
        self, session: Session, record: Record, payload: bytes, *, advance: bool = True
    ) -> Seen:
        """Judge one record and remember it unless it is a repeat (the caller then archives
        and processes it, in this transaction).

        ``advance=False`` for a record that is archived but not taken as the channel's data
        (stamped in the future, at the wrong rate): it is remembered, so a resend of it is a
        repeat, but it moves neither the channel's newest data nor makes a gap.
        """
        key = record.key
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = self._read_back(session, record)
        ident = identity(record, payload)
        if ident in channel.recent:
            return Seen(Kind.REPEAT)
        if not advance:
            if self._in_archive(session, record, ident):
                return Seen(Kind.REPEAT)
            channel.remember(ident)
            return Seen(Kind.NEW)
        half = 0.5 / record.sampling_rate
        newest = channel.newest
        cause = "resume" if channel.fresh else "stream"
        if newest is None or record.starttime > newest + half:
            gap = None
            if newest is not None and record.starttime > newest + 3 * half:
                gap = (newest, record.starttime)
            seen = Seen(Kind.NEW, gap, cause)
        elif self._in_archive(session, record, ident):
            return Seen(Kind.REPEAT)
        else:
            seen = Seen(Kind.LATE, None, cause)
        channel.remember(ident)
        channel.fresh = False
        if newest is None or record.endtime > newest:
            channel.newest = record.endtime
        return seen

    def archived(self, relative: str, record: Record, payload: bytes) -> None:
        """A record was appended to ``relative``: a day file indexed whole learns it."""
        indexed = self._files.get(relative)
        if indexed is not None:
            indexed.add(identity(record, payload))

    # -- reading back ------------------------------------------------------------------------

    def _read_back(self, session: Session, record: Record) -> _Channel:
        channel = _Channel(self._known.get(record.key))
        if self._archive is None:
            return channel
        key = record.key
        tail = self._archive.read_tail(
            session, key=key, time=record.starttime, max_bytes=TAIL_BYTES
        )
        if not tail:  # a new day: the newest data are in the day before's file
            tail = self._archive.read_tail(
                session, key=key, time=record.starttime - _DAY_S, max_bytes=TAIL_BYTES
            )
        for raw in tail:
            try:
                old = decode_record(raw)
            except RecordError:
                continue  # archived as received; it was never processed either
            if old.key != key:
                continue
            channel.remember(identity(old, raw))
            if channel.newest is None or old.endtime > channel.newest:
                channel.newest = old.endtime
        return channel

    def _in_archive(self, session: Session, record: Record, ident: Identity) -> bool:
        """Whether a record older than the recent ones was taken before: its day file's
        identities (the committed part), kept for the few files most recently asked."""
        if self._archive is None:
            return False
        relative = self._archive.path_of(record.key, record.starttime)
        indexed = self._files.get(relative)
        if indexed is None:
            indexed = set()
            for raw in self._archive.read_tail(
                session, key=record.key, time=record.starttime, max_bytes=1 << 40
            ):
                try:
                    indexed.add(identity(decode_record(raw), raw))
                except RecordError:
                    continue
            self._files[relative] = indexed
            if len(self._files) > FILES_INDEXED:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(relative)
        return ident in indexed
