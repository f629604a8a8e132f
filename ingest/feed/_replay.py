"""Replay of recorded miniSEED (files or an SDS archive) as a :class:`RecordSource`.

Records of all channels are released in the order a digitizer sends them: each once its last
sample is recorded (by its end time; ties by start time, then source id), so channels are
interleaved in time. Three modes:

``realtime``
    Re-timed to now: the archive's first sample is stamped ``start`` (by default the whole
    second at or before the first ``records_until`` call) and every record is shifted by the
    same amount and released in real time. Each record's samples are packed again at the new
    time (same codes, rate, encoding, flags and timing quality; 512-byte records), so the
    samples are equal but the bytes are not.
``original``
    Released in real time at their original times relative to ``start`` (the archive's first
    sample is "recorded" at ``start``), but never re-timed: 512-byte records pass through byte
    for byte, for tests that compare an archive with what was received.
``fast``
    Everything at the first call, as fast as clients read; records unchanged.

Records that are not 512 bytes long (e.g. 4096-byte archive records) are packed again into
512-byte records at their own times, since that is what SeedLink v3 carries.

Limitations: the whole selection is read into memory at construction; a replay runs once
(no looping) at real speed (no speed factor); records are kept whole (``begin``/``end`` select
the records that overlap the window, they do not cut them).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pymseed import MiniSEEDError, MS3Record

from ingest.feed._mseed import RECORD_LENGTH, RecordInfo, decode, encode, record_info
from stations.errors import ConfigurationError

ReplayMode = Literal["realtime", "original", "fast"]
REPLAY_MODES: tuple[ReplayMode, ...] = ("realtime", "original", "fast")


def read_records(data: bytes, name: str = "buffer") -> list[bytes]:
    """Split a buffer of miniSEED 2 records into 512-byte records (re-packing other lengths).

    Raises :class:`ConfigurationError` if the buffer is not miniSEED.
    """
    out: list[bytes] = []
    offset = 0
    view = memoryview(data)
    try:
        while offset < len(data):
            msr = MS3Record.parse(view[offset:])
            length = int(msr.reclen)
            if length <= 0 or int(msr.formatversion) != 2:
                raise ConfigurationError(name, f"not a miniSEED 2 record at byte {offset}")
            record = data[offset : offset + length]
            offset += length
            if length == RECORD_LENGTH:
                out.append(record)
            else:
                out += encode(decode(record))
    except (MiniSEEDError, ValueError) as e:
        raise ConfigurationError(name, f"not miniSEED at byte {offset}: {e}") from e
    return out


def read_files(paths: Iterable[Path]) -> list[bytes]:
    """The records of miniSEED files, as :func:`read_records` gives them."""
    out: list[bytes] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ConfigurationError(str(path), str(e)) from e
        out += read_records(data, str(path))
    return out


def sds_files(
    root: Path,
    begin: float,
    end: float,
    *,
    network: str = "*",
    station: str = "*",
    location: str = "*",
    channel: str = "*",
) -> list[Path]:
    """Day files of an SDS archive (``YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``)
    that may hold data between the POSIX times ``begin`` and ``end``, sorted.

    The day before ``begin`` is included: its last record may run past midnight.
    """
    if not root.is_dir():
        raise ConfigurationError(str(root), "no SDS archive here")
    first = datetime.fromtimestamp(begin, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, UTC).date()
    out: list[Path] = []
    day = first
    while day <= last:
        year, doy = day.year, day.timetuple().tm_yday
        pattern = f"{year}/{network}/{station}/{channel}.D/*.*.{location}.*.D.{year}.{doy:03d}"
        for path in sorted(root.glob(pattern)):
            parts = path.name.split(".")
            if len(parts) == 7 and fnmatch.fnmatchcase(parts[2], location):
                out.append(path)
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class _Item:
    release_ns: int
    info: RecordInfo
    record: bytes


class ReplaySource:
    """Recorded records re-released in real time (re-timed or not) or all at once.

    Parameters
    ----------
    records
        512-byte miniSEED 2 records, in any order (see :func:`read_files`).
    mode
        ``realtime``, ``original`` or ``fast`` (see the module's notes).
    start
        POSIX time that the archive's first sample corresponds to; by default the whole
        second at or before the first ``records_until`` call.
    begin, end
        Only records overlapping ``[begin, end)`` (POSIX times, archive time) are replayed.
    """

    def __init__(
        self,
        records: Iterable[bytes],
        mode: ReplayMode = "realtime",
        *,
        start: float | None = None,
        begin: float | None = None,
        end: float | None = None,
    ) -> None:
        if mode not in REPLAY_MODES:
            raise ConfigurationError("ReplaySource", f"mode must be one of {REPLAY_MODES}")
        self.mode: ReplayMode = mode
        begin_ns = None if begin is None else round(begin * 1e9)
        end_ns = None if end is None else round(end * 1e9)
        items: list[_Item] = []
        for rec in records:
            try:
                info = record_info(rec)
            except ValueError as e:
                raise ConfigurationError("ReplaySource", str(e)) from e
            if begin_ns is not None and info.end_ns < begin_ns:
                continue
            if end_ns is not None and info.start_ns >= end_ns:
                continue
            items.append(_Item(info.end_ns, info, rec))
        if not items:
            raise ConfigurationError("ReplaySource", "no records to replay")
        items.sort(key=lambda it: (it.release_ns, it.info.start_ns, _sort_id(it.info)))
        self._items = items
        self._next = 0
        self.origin_ns = min(it.info.start_ns for it in items)
        """Time of the archive's first sample, in archive time."""
        self._start: float | None = None
        if start is not None:
            self._start = start

    @classmethod
    def from_files(
        cls, paths: Sequence[Path], mode: ReplayMode = "realtime", **kwargs: float | None
    ) -> ReplaySource:
        """Replay miniSEED files (records of any length; see :func:`read_files`)."""
        return cls(read_files(paths), mode, **kwargs)

    @classmethod
    def from_sds(
        cls,
        root: Path,
        begin: float,
        end: float,
        mode: ReplayMode = "realtime",
        *,
        network: str = "*",
        station: str = "*",
        location: str = "*",
        channel: str = "*",
        start: float | None = None,
    ) -> ReplaySource:
        """Replay ``[begin, end)`` of an SDS archive for the channels matching the patterns."""
        paths = sds_files(
            root,
            begin,
            end,
            network=network,
            station=station,
            location=location,
            channel=channel,
        )
        if not paths:
            raise ConfigurationError(str(root), "no SDS day files match")
        return cls(read_files(paths), mode, start=start, begin=begin, end=end)

    # -- public --------------------------------------------------------------------------

    @property
    def stations(self) -> list[tuple[str, str]]:
        """``(network, station)`` of every replayed station, sorted."""
        return sorted({(it.info.network, it.info.station) for it in self._items})

    @property
    def start(self) -> float | None:
        """POSIX time of the first sample as stamped in the released records, once known."""
        if self.mode == "realtime":
            return self._start
        return self.origin_ns / 1e9

    @property
    def remaining(self) -> int:
        """Records not released yet."""
        return len(self._items) - self._next

    def records_until(self, now: float) -> list[bytes]:
        """The records released by ``now`` and not returned before, in release order."""
        if self._start is None:
            self._start = float(math.floor(now))
        if self.mode == "fast":
            limit = None
        else:
            elapsed_ns = round((now - self._start) * 1e9)
            limit = self.origin_ns + elapsed_ns
        out: list[bytes] = []
        while self._next < len(self._items):
            item = self._items[self._next]
            if limit is not None and item.release_ns > limit:
                break
            self._next += 1
            out += self._retimed(item) if self.mode == "realtime" else [item.record]
        return out

    def _retimed(self, item: _Item) -> list[bytes]:
        assert self._start is not None
        shift = round(self._start * 1e9) - self.origin_ns
        d = decode(item.record)
        return encode(dataclasses.replace(d, start_ns=d.start_ns + shift))


def _sort_id(info: RecordInfo) -> tuple[str, str, str, str]:
    return (info.network, info.station, info.location, info.channel)
