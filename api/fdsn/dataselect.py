"""``/fdsnws/dataselect/1/``: miniSEED from Larza's SDS archive, records as archived.

A request names channels (comma-separated codes, wildcards ``?`` and ``*``, ``--`` for the
empty location) and a time window, in the query string (GET) or as lines of the FDSN request
body (POST, ``NET STA LOC CHA START END``, optional ``key=value`` lines first). Channels are
matched against the inventory; for each one, the day files of the window are read up to
their committed size (bytes past it were written by a worker that crashed before its
transaction committed, and are never served). The records whose time span overlaps a
window are returned whole, byte for byte and in file order: nothing is re-encoded or cut.
Each day file is read once per request, in chunks, and its records are sent as they are
found: a request never holds a whole file in memory.

What one request may cost is bounded, and a request over a bound is refused at once with
the FDSN 413 document: the POST body (``dataselect_max_body_bytes``) and its lines
(``dataselect_max_lines``), the days its windows span in total (``dataselect_max_days``),
and the archive bytes it would read (``dataselect_max_bytes``, the committed sizes of the
day files it needs, known from the archive index before anything is read).

Limitations: ``quality``, ``minimumlength`` and ``longestonly`` are accepted and checked but
change nothing (Larza archives one quality, as received). A record is archived in the file
of the day it starts on; the previous day's file is read as well only when the window starts
less than ``min(1 day, max(60 s, 5000 samples))`` after midnight, so a longer record
crossing midnight is missed by a window starting later than that.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pymseed import MiniSEEDError, MS3Record
from sqlalchemy.orm import Session

from api.bodies import read_bounded
from api.deps import SessionDep, SettingsDep
from api.fdsn.common import (
    SERVICE_VERSION,
    FdsnError,
    canonical,
    code_matches,
    code_patterns,
    error_document,
    no_data,
    openapi_parameters,
    openapi_responses,
    parse_bool,
    parse_choice,
    parse_float,
    parse_time,
    wadl_param,
    wadl_response,
)
from api.settings import ApiSettings
from stations.queries import ChannelKey, archive_file_sizes, channel_index
from stations.sds import sds_path

log = logging.getLogger(__name__)

router = APIRouter(prefix="/fdsnws/dataselect/1", tags=["fdsn"])

MEDIA_TYPE = "application/vnd.fdsn.mseed"

# name -> (WADL type, description, required)
PARAMETERS: dict[str, tuple[str, str, bool]] = {
    "starttime": ("xs:date", "start of the window", True),
    "endtime": ("xs:date", "end of the window", True),
    "network": ("xs:string", "network codes, comma separated, wildcards ? and *", False),
    "station": ("xs:string", "station codes", False),
    "location": ("xs:string", "location codes (-- for empty)", False),
    "channel": ("xs:string", "channel codes", False),
    "quality": ("xs:string", "accepted; Larza archives data as received", False),
    "minimumlength": ("xs:double", "accepted; every overlapping record is returned", False),
    "longestonly": ("xs:boolean", "accepted; every overlapping record is returned", False),
    "format": ("xs:string", "miniseed", False),
    "nodata": ("xs:int", "204 (default) or 404 when nothing matches", False),
}
ALIASES = {
    "start": "starttime", "end": "endtime", "net": "network", "sta": "station",
    "loc": "location", "cha": "channel",
}  # fmt: skip
OPTIONS = frozenset({"quality", "minimumlength", "longestonly", "format", "nodata"})
QUALITIES = ("d", "r", "q", "m", "b")
MINIMUM_LENGTH = (0.0, 1e9)
"""Seconds: the accepted values of ``minimumlength`` (which changes nothing)."""
_NS_PER_US = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_BYTES = 64 * 1024
"""How much of a day file is read at a time."""
MAX_DAY_FILES = 50_000
"""Most day files one request may name (each channel and day it reaches is one)."""


@dataclass(frozen=True)
class RequestLine:
    """One channel selection and time window: a GET query, or a line of a POST body."""

    network: list[str]
    station: list[str]
    location: list[str]
    channel: list[str]
    start: datetime
    end: datetime

    def selects(self, key: ChannelKey) -> bool:
        return (
            code_matches(key.network, self.network)
            and code_matches(key.station, self.station)
            and code_matches(key.location, self.location)
            and code_matches(key.channel, self.channel)
        )


@dataclass(frozen=True)
class DayFile:
    """A day file to read, its committed size, and the windows (ns since 1970) asked of it:
    sorted, disjoint ``(start, end)`` pairs."""

    path: str
    size: int
    windows: tuple[tuple[int, int], ...]

    def wants(self, start_ns: int, end_ns: int) -> bool:
        """Whether a record spanning ``[start_ns, end_ns]`` overlaps one of the windows."""
        at = bisect.bisect_right(self.windows, (end_ns, _LAST)) - 1
        return at >= 0 and self.windows[at][1] >= start_ns


_LAST = 2**63


def merged(windows: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Windows sorted, the overlapping ones joined."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


def _ns(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1) * _NS_PER_US


def parse_options(params: Mapping[str, str]) -> int:
    """Check the options shared by GET and POST; returns the ``nodata`` status."""
    if "quality" in params:
        parse_choice("quality", params["quality"], QUALITIES)
    if "minimumlength" in params:
        parse_float("minimumlength", params["minimumlength"], *MINIMUM_LENGTH)
    if "longestonly" in params:
        parse_bool("longestonly", params["longestonly"])
    parse_choice("format", params.get("format", "miniseed"), ("miniseed",))
    return int(parse_choice("nodata", params.get("nodata", "204"), ("204", "404")))


def _line(codes: Sequence[tuple[str, str]], start: str, end: str) -> RequestLine:
    first, last = parse_time("starttime", start), parse_time("endtime", end)
    if last <= first:
        raise FdsnError(400, f"endtime {end} must be after starttime {start}")
    network, station, location, channel = (code_patterns(name, value) for name, value in codes)
    return RequestLine(network, station, location, channel, start=first, end=last)


def parse_query(params: Mapping[str, str]) -> list[RequestLine]:
    for name in ("starttime", "endtime"):
        if name not in params:
            raise FdsnError(400, f"Missing parameter: {name} is required")
    codes = [(n, params.get(n, "*")) for n in ("network", "station", "location", "channel")]
    return [_line(codes, params["starttime"], params["endtime"])]


def parse_body(body: bytes, max_lines: int) -> tuple[dict[str, str], list[RequestLine]]:
    """The options and lines of an FDSN POST request body (at most ``max_lines`` lines)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise FdsnError(400, "The request body is not ASCII text") from None
    options: dict[str, str] = {}
    lines: list[RequestLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if "=" in line and not lines:
            key, _, value = line.partition("=")
            name = key.strip().lower()
            if name not in OPTIONS:
                raise FdsnError(400, f"Unsupported parameter: {key.strip()[:40]}")
            if name in options:
                raise FdsnError(400, f"Parameter given twice: {name}")
            options[name] = value.strip()
            continue
        if len(lines) == max_lines:
            raise FdsnError(413, f"The request has more than {max_lines} lines; send fewer")
        fields = re.split(r"\s+", line)
        if len(fields) != 6:
            raise FdsnError(
                400,
                f"Bad request line {number}: {line[:120]!r}; expected NET STA LOC CHA START END",
            )
        names = ("network", "station", "location", "channel")
        lines.append(_line(list(zip(names, fields[:4], strict=True)), fields[4], fields[5]))
    if not lines:
        raise FdsnError(400, "The request body names no channel and time window")
    return options, lines


def check_span(lines: Sequence[RequestLine], max_days: float) -> None:
    days = sum((line.end - line.start).total_seconds() for line in lines) / 86400
    if days > max_days:
        raise FdsnError(
            413, f"The request spans {days:.2f} days of data; at most {max_days:g} per request"
        )


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        if day == date.max:
            return
        day += timedelta(days=1)


def _first_day(line: RequestLine, rate: float) -> date:
    """The day of the first file that may hold a record reaching into ``line``'s window."""
    margin = min(max(60.0, 5000.0 / rate), 86400.0) if rate > 0 else 86400.0
    try:
        return (line.start - timedelta(seconds=margin)).date()
    except OverflowError:  # a window starting in year 1
        return date.min


def day_files(session: Session, lines: Sequence[RequestLine]) -> list[DayFile]:
    """The committed day files to read, in answer order (by line, channel, then day), each
    once with every window asked of it.

    A record is archived in the file of the day it starts on, so the previous day's file is
    read too when the window starts within ``min(1 day, max(60 s, 5000 samples))`` of
    midnight. More than ``MAX_DAY_FILES`` files is a 413.
    """
    channels = sorted(channel_index(session).items(), key=lambda item: str(item[0]))
    windows: dict[str, list[tuple[int, int]]] = {}
    for line in lines:
        start_ns, end_ns = _ns(line.start), _ns(line.end)
        for key, channel in channels:
            if not line.selects(key):
                continue
            for day in _days(_first_day(line, channel.sampling_rate), line.end.date()):
                midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
                path = sds_path(key, midnight.timestamp())
                windows.setdefault(path, []).append((start_ns, end_ns))
                if len(windows) > MAX_DAY_FILES:
                    raise FdsnError(
                        413,
                        f"The request reaches more than {MAX_DAY_FILES} channel-days; "
                        "ask for fewer channels or shorter windows",
                    )
    sizes = archive_file_sizes(session, paths=windows)
    return [
        DayFile(path, sizes[path], merged(asked))
        for path, asked in windows.items()
        if sizes.get(path, 0) > 0
    ]


def check_bytes(files: Sequence[DayFile], max_bytes: int) -> None:
    """A 413 when reading ``files`` would read more than ``max_bytes`` of the archive."""
    total = sum(f.size for f in files)
    if total > max_bytes:
        raise FdsnError(
            413,
            f"The request would read {total / 2**20:.1f} MiB of the archive; at most "
            f"{max_bytes / 2**20:.1f} MiB per request: ask for fewer channels or shorter "
            "windows",
        )


class _Committed:
    """A day file read only up to its committed size."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._f.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(data)
        return data


def read_records(root: Path, day_file: DayFile) -> Iterator[bytes]:
    """The committed records of one day file that overlap its windows, as archived, a chunk
    of the file at a time (never the whole file in memory)."""
    try:
        f = (root / day_file.path).open("rb")
    except FileNotFoundError:
        log.warning("%s: in the archive index but not on disk", day_file.path)
        return
    offset = 0
    with f:
        records = MS3Record.from_filelike(_Committed(f, day_file.size), chunk_size=CHUNK_BYTES)
        try:
            for record in records:
                offset += record.reclen
                if day_file.wants(record.starttime, record.endtime):
                    yield record.record
        except MiniSEEDError as e:
            log.error(
                "%s: no miniSEED record at byte %d of %d: %s",
                day_file.path,
                offset,
                day_file.size,
                e,
            )


def _chunks(root: Path, files: Sequence[DayFile]) -> Iterator[bytes]:
    """Whole records, a few at a time: one answer chunk holds up to ``CHUNK_BYTES``."""
    pending: list[bytes] = []
    size = 0
    for day_file in files:
        for record in read_records(root, day_file):
            pending.append(record)
            size += len(record)
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


def archived_records(session: Session, root: Path, lines: Sequence[RequestLine]) -> Iterator[bytes]:
    """The committed records overlapping ``lines``, as a query answers them: one chunk of
    whole records per day file that has any, in answer order. For Larza's other readers of
    the archive (the dashboard's plots)."""
    return _chunks(root, day_files(session, lines))


def _answer(
    session: Session, settings: ApiSettings, lines: Sequence[RequestLine], nodata: int
) -> Response:
    check_span(lines, settings.dataselect_max_days)
    if not settings.archive_dir:
        return no_data(nodata)
    files = day_files(session, lines)
    check_bytes(files, settings.dataselect_max_bytes)
    chunks = _chunks(Path(settings.archive_dir), files)
    first = next(chunks, None)  # read up to the first data: an empty answer is a 204/404
    if first is None:
        return no_data(nodata)
    return StreamingResponse(chain([first], chunks), media_type=MEDIA_TYPE)


CHOICES: dict[str, tuple[str | int, ...]] = {
    "quality": tuple(q.upper() for q in QUALITIES) + QUALITIES,
    "format": ("miniseed",),
    "nodata": (204, 404),
}


@router.get(
    "/query",
    summary="FDSN dataselect query",
    response_class=Response,
    responses=openapi_responses((MEDIA_TYPE,)),
    openapi_extra={
        "parameters": openapi_parameters(
            PARAMETERS,
            bounds={"minimumlength": MINIMUM_LENGTH},
            choices=CHOICES,
            required=("starttime", "endtime"),
        )
    },
)
def query(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        params = canonical(request.query_params, ALIASES, set(PARAMETERS))
        nodata = parse_options(params)
        return _answer(session, settings, parse_query(params), nodata)
    except FdsnError as e:
        return error_document(request, e.status, e.message, "dataselect")


@router.post(
    "/query",
    summary="FDSN dataselect query, request lines in the body",
    response_class=Response,
    responses=openapi_responses((MEDIA_TYPE,)),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "optional key=value lines, then NET STA LOC CHA START END lines",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def query_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        if request.query_params:
            raise FdsnError(400, "A POST request carries its parameters in the body")
        limit = settings.dataselect_max_body_bytes
        too_large = FdsnError(413, f"The request body is larger than {limit} bytes")
        body = await read_bounded(request, limit, too_large)
        options, lines = await run_in_threadpool(parse_body, body, settings.dataselect_max_lines)
        nodata = parse_options(options)
        return await run_in_threadpool(_answer, session, settings, lines, nodata)
    except FdsnError as e:
        return error_document(request, e.status, e.message, "dataselect")


@router.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return SERVICE_VERSION


@router.get("/application.wadl", response_class=Response)
def wadl() -> Response:
    params = (wadl_param(name, *spec) for name, spec in PARAMETERS.items())
    return wadl_response("dataselect", params, (MEDIA_TYPE,), post=True)
