"""``/fdsnws/event/1/``: Larza's network events as QuakeML 1.2 or the FDSN text format.

The QuakeML is ObsPy's (``api.quakeml.catalog_from_events``). Larza computes neither
locations nor magnitudes: region, radius and depth filters apply to each event's preliminary
origin (the station reached first, depth 0), and ``minmagnitude``/``maxmagnitude`` match no
event, as FDSN asks of events without a magnitude. ``orderby=magnitude`` is accepted and
sorts by time. ``includeallorigins``, ``includeallmagnitudes`` and ``includearrivals`` are
accepted and change nothing: there is one origin, no magnitude, and the picks and arrivals
are always included. The only catalog and contributor is "Larza".

Limitations: events are read in pages of ``page_size_max`` and filtered here, so a query
costs time in proportion to the events stored in its time window; at most ``page_size_max``
events are returned, and a query without ``limit`` that matches more is refused (413) rather
than silently cut.
"""

from __future__ import annotations

import heapq
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from obspy.geodetics import locations2degrees
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.fdsn.common import (
    SERVICE_VERSION,
    FdsnError,
    canonical,
    error_document,
    no_data,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_time,
    wadl_param,
    wadl_response,
)
from api.quakeml import AUTHOR, catalog_from_events, first_detection
from stations.errors import NotFoundError
from stations.models import Event
from stations.queries import get_event, list_events

router = APIRouter(prefix="/fdsnws/event/1", tags=["fdsn"])

BASE_ID = "smi:larza"
CATALOG = "Larza"

# name -> (WADL type, description)
PARAMETERS: dict[str, tuple[str, str]] = {
    "starttime": ("xs:date", "events at or after this time"),
    "endtime": ("xs:date", "events at or before this time"),
    "minlatitude": ("xs:double", "southern boundary"),
    "maxlatitude": ("xs:double", "northern boundary"),
    "minlongitude": ("xs:double", "western boundary"),
    "maxlongitude": ("xs:double", "eastern boundary"),
    "latitude": ("xs:double", "centre of a radius search"),
    "longitude": ("xs:double", "centre of a radius search"),
    "minradius": ("xs:double", "minimum distance from the centre, degrees"),
    "maxradius": ("xs:double", "maximum distance from the centre, degrees"),
    "mindepth": ("xs:double", "minimum depth, km (Larza's origins are at 0 km)"),
    "maxdepth": ("xs:double", "maximum depth, km"),
    "minmagnitude": ("xs:double", "minimum magnitude (Larza computes none: matches nothing)"),
    "maxmagnitude": ("xs:double", "maximum magnitude (matches nothing)"),
    "includeallorigins": ("xs:boolean", "accepted; Larza gives one origin"),
    "includeallmagnitudes": ("xs:boolean", "accepted; Larza gives no magnitude"),
    "includearrivals": ("xs:boolean", "accepted; picks and arrivals are always included"),
    "eventid": ("xs:string", "one event by its Larza id"),
    "limit": ("xs:int", "at most this many events"),
    "offset": ("xs:int", "start at this event of the ordered result (1 is the first)"),
    "orderby": ("xs:string", "time (newest first), time-asc, magnitude, magnitude-asc"),
    "catalog": ("xs:string", "Larza"),
    "contributor": ("xs:string", "Larza"),
    "updatedafter": ("xs:date", "events updated after this time"),
    "format": ("xs:string", "xml (QuakeML 1.2) or text"),
    "nodata": ("xs:int", "204 (default) or 404 when nothing matches"),
}
ALIASES = {
    "start": "starttime", "end": "endtime", "minlat": "minlatitude", "maxlat": "maxlatitude",
    "minlon": "minlongitude", "maxlon": "maxlongitude", "lat": "latitude", "lon": "longitude",
    "minmag": "minmagnitude", "maxmag": "maxmagnitude",
}  # fmt: skip
ORDERS = ("time", "time-asc", "magnitude", "magnitude-asc")
TEXT_HEADER = (
    "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID"
    "|MagType|Magnitude|MagAuthor|EventLocationName"
)
_BOUNDS = {
    "minlatitude": (-90.0, 90.0), "maxlatitude": (-90.0, 90.0), "latitude": (-90.0, 90.0),
    "minlongitude": (-180.0, 180.0), "maxlongitude": (-180.0, 180.0),
    "longitude": (-180.0, 180.0), "minradius": (0.0, 180.0), "maxradius": (0.0, 180.0),
    "mindepth": (-10.0, 7000.0), "maxdepth": (-10.0, 7000.0),
    "minmagnitude": (-12.0, 12.0), "maxmagnitude": (-12.0, 12.0),
}  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """What an event query asks for, parsed and checked."""

    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    event_id: int | None = None
    latitudes: tuple[float, float] = (-90.0, 90.0)
    longitudes: tuple[float, float] = (-180.0, 180.0)
    centre: tuple[float, float] | None = None
    radii: tuple[float, float] = (0.0, 180.0)
    depths: tuple[float, float] | None = None
    impossible: bool = False  # a magnitude bound, or another catalog: nothing can match
    newest_first: bool = True
    limit: int | None = None
    offset: int = 1

    def matches(self, event: Event) -> bool:
        if self.impossible:
            return False
        if self.updated_after is not None and not event.updated_at > self.updated_after:
            return False
        if self.start is not None and event.time < self.start:
            return False
        if self.end is not None and event.time > self.end:
            return False
        return self._place_matches(event)

    def _place_matches(self, event: Event) -> bool:
        located = (
            self.latitudes != (-90.0, 90.0)
            or self.longitudes != (-180.0, 180.0)
            or self.centre is not None
            or self.depths is not None
        )
        if not located:
            return True
        first = first_detection(event)
        if first is None:
            return False
        station = first.channel.station
        lat, lon = station.latitude, station.longitude
        if not self.latitudes[0] <= lat <= self.latitudes[1]:
            return False
        west, east = self.longitudes
        # west > east: the box crosses the antimeridian
        inside = west <= lon <= east if west <= east else (lon >= west or lon <= east)
        if not inside:
            return False
        if self.centre is not None:
            distance = locations2degrees(self.centre[0], self.centre[1], lat, lon)
            if not self.radii[0] <= distance <= self.radii[1]:
                return False
        return self.depths is None or self.depths[0] <= 0.0 <= self.depths[1]


def parse_selection(params: dict[str, str], page_size_max: int) -> Selection:
    """The query's parameters, checked; any bad one is an ``FdsnError`` naming it."""
    numbers = {
        name: parse_float(name, params[name], low, high)
        for name, (low, high) in _BOUNDS.items()
        if name in params
    }
    if ("latitude" in numbers) != ("longitude" in numbers):
        raise FdsnError(400, "latitude and longitude go together")
    if ({"minradius", "maxradius"} & numbers.keys()) and "latitude" not in numbers:
        raise FdsnError(400, "minradius and maxradius need latitude and longitude")
    for low, high in (("minlatitude", "maxlatitude"), ("minradius", "maxradius"),
                      ("mindepth", "maxdepth"), ("minmagnitude", "maxmagnitude")):  # fmt: skip
        if low in numbers and high in numbers and numbers[low] > numbers[high]:
            raise FdsnError(400, f"{low} must not be greater than {high}")
    times = {
        name: parse_time(name, params[name])
        for name in ("starttime", "endtime", "updatedafter")
        if name in params
    }
    if "starttime" in times and "endtime" in times and times["starttime"] > times["endtime"]:
        raise FdsnError(400, "starttime must not be after endtime")
    for name in ("includeallorigins", "includeallmagnitudes", "includearrivals"):
        if name in params:
            parse_bool(name, params[name])
    event_id = None
    if "eventid" in params:
        event_id = parse_int("eventid", params["eventid"], 1, 2**63 - 1)
    other_source = any(
        name in params and params[name].strip().lower() != CATALOG.lower()
        for name in ("catalog", "contributor")
    )
    order = parse_choice("orderby", params.get("orderby", "time"), ORDERS)
    limit = None
    if "limit" in params:
        limit = parse_int("limit", params["limit"], 1, page_size_max)
    centre = (numbers["latitude"], numbers["longitude"]) if "latitude" in numbers else None
    depth_given = "mindepth" in numbers or "maxdepth" in numbers
    return Selection(
        start=times.get("starttime"),
        end=times.get("endtime"),
        updated_after=times.get("updatedafter"),
        event_id=event_id,
        latitudes=(numbers.get("minlatitude", -90.0), numbers.get("maxlatitude", 90.0)),
        longitudes=(numbers.get("minlongitude", -180.0), numbers.get("maxlongitude", 180.0)),
        centre=centre,
        radii=(numbers.get("minradius", 0.0), numbers.get("maxradius", 180.0)),
        depths=(
            (numbers.get("mindepth", float("-inf")), numbers.get("maxdepth", float("inf")))
            if depth_given
            else None
        ),
        impossible=other_source or "minmagnitude" in numbers or "maxmagnitude" in numbers,
        newest_first=not order.endswith("-asc"),
        limit=limit,
        offset=parse_int("offset", params.get("offset", "1"), 1, 2**31 - 1),
    )


def _candidates(session: Session, selection: Selection, batch: int) -> Iterator[Event]:
    """Events in the time window, read ``batch`` at a time (or the one asked for by id)."""
    if selection.event_id is not None:
        try:
            yield get_event(session, event_id=selection.event_id)
        except NotFoundError:
            return
        return
    # list_events takes an exclusive end; FDSN's endtime is inclusive
    end = None if selection.end is None else selection.end + timedelta(microseconds=1)
    after: int | None = None
    while True:
        found = list_events(session, start=selection.start, end=end, after_id=after, limit=batch)
        yield from found
        if len(found) < batch:
            return
        after = found[-1].id


def select_events(session: Session, selection: Selection, page_size_max: int) -> list[Event]:
    """The matching events in the order asked for, from ``offset``, at most ``limit``.

    Only ``offset - 1 + limit`` events are kept while scanning. Without ``limit``, more than
    ``page_size_max`` matches is a 413.
    """
    if selection.impossible:
        return []
    limit = selection.limit if selection.limit is not None else page_size_max + 1
    keep = selection.offset - 1 + limit
    matching = (e for e in _candidates(session, selection, page_size_max) if selection.matches(e))
    pick = heapq.nlargest if selection.newest_first else heapq.nsmallest
    chosen = pick(keep, matching, key=lambda e: (e.time, e.id))[selection.offset - 1 :]
    if len(chosen) > page_size_max:
        raise FdsnError(
            413,
            f"More than {page_size_max} events match: narrow the query, "
            "or page through it with limit and offset",
        )
    return chosen


def _time_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def events_text(events: Sequence[Event]) -> str:
    """The FDSN text format: one line per event, ``|`` between fields."""
    lines = [TEXT_HEADER]
    for event in events:
        first = first_detection(event)
        latitude = longitude = depth = place = ""
        if first is not None:
            station = first.channel.station
            latitude, longitude, depth = f"{station.latitude}", f"{station.longitude}", "0.0"
            place = f"first reached {station.network.code}.{station.code}"
        fields = [
            str(event.id), _time_text(event.time), latitude, longitude, depth,
            AUTHOR, CATALOG, CATALOG, str(event.id), "", "", "", place,
        ]  # fmt: skip
        lines.append("|".join(fields))
    return "\n".join(lines) + "\n"


@router.get("/query", summary="FDSN event query", response_class=Response)
def query(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        params = canonical(request.query_params, ALIASES, set(PARAMETERS))
        fmt = parse_choice("format", params.get("format", "xml"), ("xml", "text"))
        nodata = int(parse_choice("nodata", params.get("nodata", "204"), ("204", "404")))
        selection = parse_selection(params, settings.page_size_max)
        events = select_events(session, selection, settings.page_size_max)
    except FdsnError as e:
        return error_document(request, e.status, e.message, "event")
    if not events:
        return no_data(nodata)
    if fmt == "text":
        return PlainTextResponse(events_text(events))
    buf = io.BytesIO()
    catalog_from_events(events, BASE_ID).write(buf, format="QUAKEML")
    return Response(buf.getvalue(), media_type="application/xml")


@router.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return SERVICE_VERSION


def _simple_list(tag: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}s><{tag}>{CATALOG}</{tag}></{tag}s>\n'
    return Response(body, media_type="application/xml")


@router.get("/catalogs", response_class=Response)
def catalogs() -> Response:
    return _simple_list("Catalog")


@router.get("/contributors", response_class=Response)
def contributors() -> Response:
    return _simple_list("Contributor")


@router.get("/application.wadl", response_class=Response)
def wadl() -> Response:
    params = (wadl_param(name, kind, doc) for name, (kind, doc) in PARAMETERS.items())
    return wadl_response(
        "event",
        params,
        ("application/xml", "text/plain"),
        xml_resources=("catalogs", "contributors"),
    )
