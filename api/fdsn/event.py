"""``/fdsnws/event/1/``: Larza's network events as QuakeML 1.2 or the FDSN text format.

The QuakeML is the document ObsPy writes for ``api.quakeml.catalog_from_events``, written
directly by ``api.quakeml.quakeml_document``. A located earthquake is at its latest origin
(epicentre and depth), with its ML; an event Larza could not locate (a coincidence of
triggers) is placed at the station reached first, depth 0, and has no magnitude. Region,
radius and depth filters apply to those places; ``minmagnitude``/``maxmagnitude`` to the
network ML (events without one never match a magnitude bound, as FDSN asks);
``orderby=magnitude`` sorts by ML (largest first; ``magnitude-asc`` smallest first; events
without a magnitude last), then by time. Origins have arrivals with
``includearrivals=true`` only: the FDSN event specification defaults it to false, and
ObsPy's client sends it only when asked (the picks are given either way);
``includeallorigins`` and ``includeallmagnitudes`` are accepted and give the latest origin
and the one ML. The live catalog and the only contributor is
"Larza"; every finished run of ``larza reprocess`` is a catalog of its own (``catalog=NAME``:
time, eventid, orderby, limit and offset apply; a place, a depth or a magnitude is refused,
400).

Every filter, the order, ``offset`` and ``limit`` are applied in SQL by
``stations.event_search.search_events`` (a region becomes the stations and the located
events in it, a radius checked exactly with ObsPy's ``locations2degrees``). Limitations: at
most ``page_size_max`` events are returned, and a query without ``limit`` that matches more
is refused (413) rather than silently cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.fdsn.common import (
    SERVICE_VERSION,
    FdsnError,
    canonical,
    error_document,
    no_data,
    openapi_parameters,
    openapi_responses,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_time,
    wadl_param,
    wadl_response,
)
from api.quakeml import AUTHOR, quakeml_document, run_base_id
from stations.event_search import EventRecord, Region, search_events
from stations.runs import get_run, list_runs, run_event_records, source_comment

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
    "mindepth": ("xs:double", "minimum depth, km (an unlocated event's is 0)"),
    "maxdepth": ("xs:double", "maximum depth, km"),
    "minmagnitude": ("xs:double", "minimum ML"),
    "maxmagnitude": ("xs:double", "maximum ML"),
    "includeallorigins": ("xs:boolean", "accepted; Larza gives the latest origin"),
    "includeallmagnitudes": ("xs:boolean", "accepted; Larza gives one ML"),
    "includearrivals": (
        "xs:boolean",
        "arrivals of located origins (default false, as FDSN specifies)",
    ),
    "eventid": ("xs:string", "one event by its Larza id"),
    "limit": ("xs:int", "at most this many events"),
    "offset": ("xs:int", "start at this event of the ordered result (1 is the first)"),
    "orderby": ("xs:string", "time (newest first), time-asc, magnitude, magnitude-asc"),
    "catalog": ("xs:string", "Larza (live), or a reprocessing run's name"),
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
    magnitudes: tuple[float, float] | None = None
    impossible: bool = False  # another contributor: nothing can match
    catalog: str | None = None  # a catalogue run's name; None: the live catalog
    newest_first: bool = True
    by_magnitude: bool = False
    arrivals: bool = False
    limit: int | None = None
    offset: int = 1

    def region(self) -> Region | None:
        """Where the first station must be; ``None`` when the query sets no place (then
        events without detections match too)."""
        located = (
            self.latitudes != (-90.0, 90.0)
            or self.longitudes != (-180.0, 180.0)
            or self.centre is not None
        )
        if not located:
            return None
        return Region(
            latitudes=self.latitudes,
            longitudes=self.longitudes,
            centre=self.centre,
            radii=self.radii,
        )

    def nothing_matches(self) -> bool:
        """Another contributor."""
        return self.impossible


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
    flags = {
        name: parse_bool(name, params[name])
        for name in ("includeallorigins", "includeallmagnitudes", "includearrivals")
        if name in params
    }
    event_id = None
    if "eventid" in params:
        event_id = parse_int("eventid", params["eventid"], 1, 2**63 - 1)
    other_source = (
        "contributor" in params and params["contributor"].strip().lower() != CATALOG.lower()
    )
    named = params.get("catalog", CATALOG).strip()
    catalog = None if named.lower() == CATALOG.lower() else named
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
        magnitudes=(
            (numbers.get("minmagnitude", -12.0), numbers.get("maxmagnitude", 12.0))
            if "minmagnitude" in numbers or "maxmagnitude" in numbers
            else None
        ),
        impossible=other_source,
        newest_first=not order.endswith("-asc"),
        by_magnitude=order.startswith("magnitude"),
        arrivals=flags.get("includearrivals", False),
        limit=limit,
        offset=parse_int("offset", params.get("offset", "1"), 1, 2**31 - 1),
        catalog=catalog,
    )


def select_events(session: Session, selection: Selection, page_size_max: int) -> list[EventRecord]:
    """The matching events in the order asked for, from ``offset``, at most ``limit``.

    Without ``limit``, more than ``page_size_max`` matches is a 413.
    """
    if selection.nothing_matches():
        return []
    limit = selection.limit if selection.limit is not None else page_size_max + 1
    if selection.catalog is not None:
        chosen = _run_events(session, selection, limit)
    else:
        chosen = search_events(
            session,
            start=selection.start,
            end=selection.end,
            updated_after=selection.updated_after,
            event_id=selection.event_id,
            region=selection.region(),
            newest_first=selection.newest_first,
            offset=selection.offset - 1,
            limit=limit,
            magnitudes=selection.magnitudes,
            depths=selection.depths,
            by_magnitude=selection.by_magnitude,
        )
    if len(chosen) > page_size_max:
        raise FdsnError(
            413,
            f"More than {page_size_max} events match: narrow the query, "
            "or page through it with limit and offset",
        )
    return chosen


def _run_events(session: Session, selection: Selection, limit: int) -> list[EventRecord]:
    """The events of the catalogue run named by ``catalog``; none if there is no such run."""
    if (
        selection.region() is not None
        or selection.updated_after is not None
        or selection.depths is not None
        or selection.magnitudes is not None
    ):
        raise FdsnError(
            400,
            f"catalog={selection.catalog} (a reprocessing run) is searched by time, eventid, "
            "orderby, limit and offset only",
        )
    run = get_run(session, name=selection.catalog or "")
    if run is None:
        return []
    return run_event_records(
        session,
        run=run,
        start=selection.start,
        end=selection.end,
        event_id=selection.event_id,
        newest_first=selection.newest_first,
        offset=selection.offset - 1,
        limit=limit,
    )


def _time_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def events_text(events: Sequence[EventRecord]) -> str:
    """The FDSN text format: one line per event, ``|`` between fields."""
    lines = [TEXT_HEADER]
    for event in events:
        first = event.first
        latitude = longitude = depth = place = mag_type = magnitude = mag_author = ""
        if event.latitude is not None and event.longitude is not None:
            latitude, longitude = f"{event.latitude:.4f}", f"{event.longitude:.4f}"
            depth = f"{event.depth_km or 0.0:.1f}"
            if first is not None:
                place = f"nearest station reached first: {first.network}.{first.station}"
        elif first is not None:
            latitude, longitude, depth = f"{first.latitude}", f"{first.longitude}", "0.0"
            place = f"first reached {first.network}.{first.station}"
        if event.magnitude is not None:
            mag_type, magnitude, mag_author = "ML", f"{event.magnitude:.1f}", AUTHOR
        fields = [
            str(event.id), _time_text(event.time), latitude, longitude, depth,
            AUTHOR, CATALOG, CATALOG, str(event.id), mag_type, magnitude, mag_author, place,
        ]  # fmt: skip
        lines.append("|".join(fields))
    return "\n".join(lines) + "\n"


CHOICES: dict[str, tuple[str | int, ...]] = {
    "orderby": ORDERS,
    "format": ("xml", "text"),
    "nodata": (204, 404),
}
INTEGERS = {"eventid": (1, 2**63 - 1), "limit": (1, 2**63 - 1), "offset": (1, 2**31 - 1)}


@router.get(
    "/query",
    summary="FDSN event query",
    response_class=Response,
    responses=openapi_responses(("application/xml", "text/plain")),
    openapi_extra={
        "parameters": openapi_parameters(
            {**PARAMETERS, "eventid": ("xs:long", PARAMETERS["eventid"][1])},
            bounds={**_BOUNDS, **INTEGERS},
            choices=CHOICES,
        )
    },
)
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
    base, comment = BASE_ID, None
    if selection.catalog is not None:
        base = run_base_id(selection.catalog)
        run = get_run(session, name=selection.catalog)
        comment = source_comment(run) if run is not None else None
    return Response(
        quakeml_document(events, base, selection.arrivals, comment), media_type="application/xml"
    )


@router.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return SERVICE_VERSION


def _simple_list(tag: str, names: Sequence[str] = (CATALOG,)) -> Response:
    items = "".join(f"<{tag}>{escape(name)}</{tag}>" for name in names)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}s>{items}</{tag}s>\n'
    return Response(body, media_type="application/xml")


@router.get("/catalogs", response_class=Response)
def catalogs(session: SessionDep) -> Response:
    """Larza's live catalog, then each catalogue run of ``larza reprocess``."""
    return _simple_list("Catalog", [CATALOG, *(r.name for r in list_runs(session))])


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
