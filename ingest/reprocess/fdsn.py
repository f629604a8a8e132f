"""A chunk's waveforms from an FDSN dataselect service (``larza reprocess --fdsn URL``)
instead of the SDS archive: the same records, byte for byte, so the run equals one over the
archive the service serves.

A chunk asks the service for its station's channels (``*``) over the chunk with the default
profile's lead-in and tail (:func:`obspy.clients.fdsn.Client.get_waveforms`, the raw
miniSEED kept, not decoded by ObsPy); when the channels received need a longer lead-in or
tail (a profile of their own), the missing part is asked for too. The records are written
per channel, in time order, to a temporary folder of the worker and read from there as the
archive's day files are, through :func:`ingest.detect.files.merged`.

A 204 (the service has no data of the station over the window) is an answer, not an
error: no records, and a chunk with none is finished and empty (counted as such by the run,
not retried). Errors: a service that cannot be reached, times out or answers 5xx/429 is
asked again (``attempts`` times, waiting ``backoff_s``, then twice as long); a 413 (too much
data for one request) splits the window in two, down to ``min_split_s``; then, and for any
other answer or one that is not miniSEED, the chunk raises :class:`FdsnChunkError` naming
the request and the answer, which Dask retries and the run reports by the chunk's name.

A record that lies across the edge of two requests comes in both answers and is kept once.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pymseed import MiniSEEDError, MS3Record

from stations.errors import LarzaError
from stations.queries import ChannelKey

__all__ = ["MIN_SPLIT_S", "Fdsn", "FdsnChunkError", "FetchedChunk", "fdsn_stations"]

MIN_SPLIT_S = 600.0
"""Seconds: by default, a window is not split (on a 413) into pieces shorter than this."""

_RecordId = tuple[str, int, int]  # source id, start and end (ns)


class FdsnChunkError(LarzaError):
    """A chunk's waveforms could not be had from the FDSN service (after its retries)."""


@dataclass(frozen=True)
class Fdsn:
    """An FDSN dataselect service (its base URL, as ObsPy's ``Client`` takes it) and how
    hard to try it."""

    url: str
    timeout_s: float = 120.0
    attempts: int = 3  # tries of a request that meets a service down or overloaded
    backoff_s: float = 2.0  # wait before the second try; doubled for each next one
    min_split_s: float = MIN_SPLIT_S  # a 413 splits a window down to pieces this long


@lru_cache(maxsize=8)
def _client(url: str, timeout_s: float) -> Any:
    """ObsPy's client of the service, one per worker process (it asks the service which
    parameters it takes once)."""
    from obspy.clients.fdsn import Client

    return Client(url, timeout=timeout_s)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _retryable(error: Exception) -> bool:
    """A service down, slow or overloaded (asked again), not a request it refuses."""
    from obspy.clients.fdsn import header as h

    refused = (
        h.FDSNBadRequestException,
        h.FDSNDoubleAuthenticationException,
        h.FDSNForbiddenException,
        h.FDSNInvalidRequestException,
        h.FDSNNoAuthenticationServiceException,
        h.FDSNNotImplementedException,
        h.FDSNRedirectException,
        h.FDSNUnauthorizedException,
    )
    # ObsPy reports a refused connection as a bare FDSNException("Unknown Error ...")
    return isinstance(error, h.FDSNException | OSError) and not isinstance(error, refused)


def _describe(error: Exception) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def fetch(service: Fdsn, station: str, start: float, end: float) -> list[bytes]:
    """The miniSEED records of ``station``'s channels that the service answers for
    ``[start, end]``, as it sends them; none for a 204 (no data). See the module's
    docstring for the errors."""
    from obspy import UTCDateTime
    from obspy.clients.fdsn.header import FDSNNoDataException, FDSNRequestTooLargeException

    net, sta = station.split(".", 1)
    what = f"{service.url}: {station} {_iso(start)} .. {_iso(end)}"
    wait = service.backoff_s
    for attempt in range(1, service.attempts + 1):
        body = io.BytesIO()
        try:
            client = _client(service.url, service.timeout_s)
            client.get_waveforms(
                net, sta, "*", "*", UTCDateTime(start), UTCDateTime(end), filename=body
            )
            return _split(body.getvalue(), what)
        except FDSNNoDataException:
            return []  # no data of the station over the window: an answer, not a failure
        except FDSNRequestTooLargeException as e:
            if end - start < 2 * service.min_split_s:
                raise FdsnChunkError(f"{what}: too large (HTTP 413): {_describe(e)}") from e
            middle = start + (end - start) / 2
            first = fetch(service, station, start, middle)
            return _joined(first, fetch(service, station, middle, end))
        except Exception as e:  # ObsPy raises many kinds; each is named in the error
            if not _retryable(e) or attempt == service.attempts:
                tries = f" (tried {attempt} times)" if attempt > 1 else ""
                raise FdsnChunkError(f"{what}: {_describe(e)}{tries}") from e
        time.sleep(wait)
        wait *= 2
    raise AssertionError("unreachable")


def _split(data: bytes, what: str) -> list[bytes]:
    """The records of an answer."""
    view = memoryview(data)
    out: list[bytes] = []
    offset = 0
    while offset < len(data):
        try:
            header = MS3Record.parse(view[offset:], unpack_data=False)
        except (MiniSEEDError, ValueError) as e:
            raise FdsnChunkError(f"{what}: not miniSEED at byte {offset} of the answer") from e
        out.append(bytes(view[offset : offset + header.reclen]))
        offset += header.reclen
    return out


def _id(record: bytes) -> _RecordId:
    h = MS3Record.parse(record, unpack_data=False)
    return h.sourceid, h.starttime, h.endtime


def _joined(first: list[bytes], second: list[bytes]) -> list[bytes]:
    """Two answers as one: a record of the second that the first has already (one across
    the edge of their windows) is left out."""
    seen = {_id(r) for r in first}
    return first + [r for r in second if _id(r) not in seen]


class FetchedChunk:
    """A station's records over a growing window, kept per channel in a temporary folder."""

    def __init__(self, service: Fdsn, station: str, folder: Path) -> None:
        self.service = service
        self.station = station
        self.folder = folder
        self.span: tuple[float, float] | None = None
        self._records: list[bytes] = []
        self._written = False

    def cover(self, start: float, end: float) -> None:
        """Have every record of ``[start, end]`` (asking only for what is not had yet)."""
        if self.span is None:
            self._records = fetch(self.service, self.station, start, end)
            self.span = (start, end)
            self._written = False
            return
        have_start, have_end = self.span
        if start < have_start:
            self._records = _joined(
                self._records, fetch(self.service, self.station, start, have_start)
            )
            self._written = False
        if end > have_end:
            self._records = _joined(self._records, fetch(self.service, self.station, have_end, end))
            self._written = False
        self.span = (min(start, have_start), max(end, have_end))

    def keys(self) -> set[ChannelKey]:
        from pymseed.util import sourceid2nslc

        return {ChannelKey(*sourceid2nslc(_id(r)[0])) for r in self._records}

    def files(self) -> list[Path]:
        """One file a channel, its records in time order (as an SDS day file holds them)."""
        if not self._written:
            by_stream: dict[str, list[tuple[int, bytes]]] = {}
            for record in self._records:
                sourceid, start_ns, _ = _id(record)
                by_stream.setdefault(sourceid, []).append((start_ns, record))
            for old in self.folder.iterdir():
                old.unlink()
            for n, (_, records) in enumerate(sorted(by_stream.items())):
                records.sort(key=lambda r: r[0])  # stable: a record sent twice stays twice
                (self.folder / f"{n}.mseed").write_bytes(b"".join(r for _, r in records))
            self._written = True
        return sorted(self.folder.iterdir())


@contextmanager
def fetched_chunk(service: Fdsn, station: str) -> Iterator[FetchedChunk]:
    with tempfile.TemporaryDirectory(prefix="larza-fdsn-") as folder:
        yield FetchedChunk(service, station, Path(folder))


def fdsn_stations(service: Fdsn, start: float, end: float) -> list[str]:
    """``NET.STA`` of the stations the service's station service lists from ``start`` to
    ``end`` (for a run over an FDSN service without ``--stations``)."""
    from obspy import UTCDateTime

    try:
        inventory = _client(service.url, service.timeout_s).get_stations(
            starttime=UTCDateTime(start), endtime=UTCDateTime(end), level="station"
        )
    except Exception as e:  # ObsPy raises many kinds; the message names it
        raise LarzaError(
            f"{service.url}: cannot list its stations ({_describe(e)}): say --stations"
        ) from e
    return sorted({f"{n.code}.{s.code}" for n in inventory for s in n})
