"""``/fdsnws/dataselect/1/``: miniSEED from Larza's SDS archive, records as archived.

A request names channels (comma-separated codes, wildcards ``?`` and ``*``, ``--`` for the
empty location) and a time window, in the query string (GET) or as lines of the FDSN request
body (POST, ``NET STA LOC CHA START END``, optional ``key=value`` lines first). Channels are
matched against the inventory; for each one, the day files of the window are read up to
their committed size (bytes past it were written by a worker that crashed before its
transaction committed, and are never served). The records whose time span overlaps the
window are returned whole, byte for byte and in file order: nothing is re-encoded or cut.

Limitations: ``quality``, ``minimumlength`` and ``longestonly`` are accepted and checked but
change nothing (Larza archives one quality, as received). The windows of one request may
span at most ``dataselect_max_days`` days in total, whatever the number of channels. A record
is archived in the file of the day it starts on; the previous day's file is read as well only
when the window starts less than ``max(60 s, 5000 samples)`` after midnight, so a longer
record crossing midnight is missed by a window starting later than that.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pymseed import MiniSEEDError, MS3Record
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.fdsn.common import (
    SERVICE_VERSION,
    FdsnError,
    canonical,
    code_matches,
    code_patterns,
    error_document,
    no_data,
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
_NS_PER_US = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    """A day file to read: its committed size and the window (ns since 1970) asked of it."""

    path: str
    size: int
    start_ns: int
    end_ns: int


def _ns(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1) * _NS_PER_US


def parse_options(params: Mapping[str, str]) -> int:
    """Check the options shared by GET and POST; returns the ``nodata`` status."""
    if "quality" in params:
        parse_choice("quality", params["quality"], QUALITIES)
    if "minimumlength" in params:
        parse_float("minimumlength", params["minimumlength"], 0.0, float("inf"))
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


def parse_body(body: bytes) -> tuple[dict[str, str], list[RequestLine]]:
    """The options and lines of an FDSN POST request body."""
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
                raise FdsnError(400, f"Unsupported parameter: {key.strip()}")
            if name in options:
                raise FdsnError(400, f"Parameter given twice: {name}")
            options[name] = value.strip()
            continue
        fields = re.split(r"\s+", line)
        if len(fields) != 6:
            raise FdsnError(
                400, f"Bad request line {number}: {line!r}; expected NET STA LOC CHA START END"
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
        day += timedelta(days=1)


def day_files(session: Session, lines: Sequence[RequestLine]) -> list[DayFile]:
    """The committed day files to read, in answer order: by line, channel, then day.

    A record is archived in the file of the day it starts on, so the previous day's file is
    read too when the window starts within ``max(60 s, 5000 samples)`` of midnight.
    """
    channels = sorted(channel_index(session).items(), key=lambda item: str(item[0]))
    wanted: list[tuple[str, int, int]] = []
    for line in lines:
        start_ns, end_ns = _ns(line.start), _ns(line.end)
        for key, channel in channels:
            if not line.selects(key):
                continue
            rate = channel.sampling_rate
            margin = max(60.0, 5000.0 / rate) if rate > 0 else 86400.0
            first = (line.start - timedelta(seconds=margin)).date()
            for day in _days(first, line.end.date()):
                midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
                wanted.append((sds_path(key, midnight.timestamp()), start_ns, end_ns))
    sizes = archive_file_sizes(session, paths={path for path, _s, _e in wanted})
    return [DayFile(p, sizes[p], s, e) for p, s, e in wanted if sizes.get(p, 0) > 0]


def read_records(root: Path, day_file: DayFile) -> bytes:
    """The committed records of one day file that overlap its window, as archived."""
    try:
        with (root / day_file.path).open("rb") as f:
            data = f.read(day_file.size)
    except FileNotFoundError:
        log.warning("%s: in the archive index but not on disk", day_file.path)
        return b""
    selected = bytearray()
    offset = 0
    try:
        for record in MS3Record.from_buffer(data):
            length = record.reclen
            if record.starttime <= day_file.end_ns and record.endtime >= day_file.start_ns:
                selected += data[offset : offset + length]
            offset += length
    except MiniSEEDError as e:
        log.error(
            "%s: no miniSEED record at byte %d of %d: %s", day_file.path, offset, len(data), e
        )
    return bytes(selected)


def _chunks(root: Path, files: Sequence[DayFile]) -> Iterator[bytes]:
    for day_file in files:
        chunk = read_records(root, day_file)
        if chunk:
            yield chunk


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
    chunks = _chunks(Path(settings.archive_dir), day_files(session, lines))
    first = next(chunks, None)  # read up to the first data: an empty answer is a 204/404
    if first is None:
        return no_data(nodata)
    return StreamingResponse(chain([first], chunks), media_type=MEDIA_TYPE)


@router.get("/query", summary="FDSN dataselect query", response_class=Response)
def query(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        params = canonical(request.query_params, ALIASES, set(PARAMETERS))
        nodata = parse_options(params)
        return _answer(session, settings, parse_query(params), nodata)
    except FdsnError as e:
        return error_document(request, e.status, e.message, "dataselect")


@router.post("/query", summary="FDSN dataselect query, request lines in the body")
async def query_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        if request.query_params:
            raise FdsnError(400, "A POST request carries its parameters in the body")
        options, lines = parse_body(await request.body())
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
