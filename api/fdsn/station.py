"""``/fdsnws/station/1/``: the inventory as StationXML or the FDSN text format.

Filtering, levels and writing are ObsPy's (``Inventory.select``, ``write``); the inventory is
every StationXML file as last imported.
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import SessionDep
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
from stations.inventory import current_inventory

router = APIRouter(prefix="/fdsnws/station/1", tags=["fdsn"])

# name -> (WADL type, description)
PARAMETERS: dict[str, tuple[str, str]] = {
    "starttime": ("xs:date", "channels active on or after this time"),
    "endtime": ("xs:date", "channels active on or before this time"),
    "network": ("xs:string", "network codes, comma separated, wildcards ? and *"),
    "station": ("xs:string", "station codes"),
    "location": ("xs:string", "location codes (-- for empty)"),
    "channel": ("xs:string", "channel codes"),
    "minlatitude": ("xs:double", "southern boundary"),
    "maxlatitude": ("xs:double", "northern boundary"),
    "minlongitude": ("xs:double", "western boundary"),
    "maxlongitude": ("xs:double", "eastern boundary"),
    "latitude": ("xs:double", "centre of a radius search"),
    "longitude": ("xs:double", "centre of a radius search"),
    "minradius": ("xs:double", "minimum distance from the centre, degrees"),
    "maxradius": ("xs:double", "maximum distance from the centre, degrees"),
    "level": ("xs:string", "network, station, channel or response"),
    "format": ("xs:string", "xml or text"),
    "includerestricted": ("xs:boolean", "accepted; Larza serves no restricted data"),
    "nodata": ("xs:int", "204 (default) or 404 when nothing matches"),
}
ALIASES = {
    "start": "starttime", "end": "endtime", "net": "network", "sta": "station",
    "loc": "location", "cha": "channel", "minlat": "minlatitude", "maxlat": "maxlatitude",
    "minlon": "minlongitude", "maxlon": "maxlongitude", "lat": "latitude", "lon": "longitude",
}  # fmt: skip
LEVELS = ("network", "station", "channel", "response")


BOUNDS = {
    "minlatitude": (-90.0, 90.0), "maxlatitude": (-90.0, 90.0), "latitude": (-90.0, 90.0),
    "minlongitude": (-180.0, 180.0), "maxlongitude": (-180.0, 180.0),
    "longitude": (-180.0, 180.0), "minradius": (0.0, 180.0), "maxradius": (0.0, 180.0),
}  # fmt: skip
CHOICES: dict[str, tuple[str | int, ...]] = {
    "level": LEVELS,
    "format": ("xml", "text"),
    "nodata": (204, 404),
}
CODE_FIELDS = ("network", "station", "location", "channel")


def _any(code: str, field: str, patterns: dict[str, list[str]]) -> bool:
    return field not in patterns or code_matches(code, patterns[field])


def _filter_codes(inventory: Any, params: dict[str, str]) -> Any:
    """Keep what matches the comma-separated code patterns (``?``, ``*``; ``--`` is empty)."""
    patterns = {f: code_patterns(f, params[f]) for f in CODE_FIELDS if f in params}
    nets = []
    for net in inventory:
        if not _any(net.code, "network", patterns):
            continue
        stas = []
        for sta in net:
            if not _any(sta.code, "station", patterns):
                continue
            sta.channels = [
                c
                for c in sta
                if _any(c.location_code, "location", patterns) and _any(c.code, "channel", patterns)
            ]
            if sta.channels or not ({"location", "channel"} & patterns.keys()):
                stas.append(sta)
        net.stations = stas
        if stas or not ({"station", "location", "channel"} & patterns.keys()):
            nets.append(net)
    inventory.networks = nets
    return inventory


def _select(inventory: Any, params: dict[str, str]) -> Any:
    from obspy import UTCDateTime

    selection: dict[str, Any] = {}
    times = {n: parse_time(n, params[n]) for n in ("starttime", "endtime") if n in params}
    if len(times) == 2 and times["starttime"] > times["endtime"]:
        raise FdsnError(400, "starttime must not be after endtime")
    selection.update((bound, UTCDateTime(value)) for bound, value in times.items())
    for name, (low, high) in BOUNDS.items():
        if name in params:
            selection[name] = parse_float(name, params[name], low, high)
    if ("latitude" in selection) != ("longitude" in selection):
        raise FdsnError(400, "latitude and longitude go together")
    for smaller, larger in (("minlatitude", "maxlatitude"), ("minradius", "maxradius")):
        if smaller in selection and larger in selection and selection[smaller] > selection[larger]:
            raise FdsnError(400, f"{smaller} must not be greater than {larger}")
    result = _filter_codes(inventory, params)
    return result.select(**selection) if selection else result


def _trim(inventory: Any, level: str) -> Any:
    for net in inventory:
        if level == "network":
            net.stations = []
            continue
        for sta in net:
            if level == "station":
                sta.channels = []
                continue
            if level == "channel":
                for cha in sta:
                    cha.response = None
    return inventory


@router.get(
    "/query",
    summary="FDSN station query",
    response_class=Response,
    responses=openapi_responses(("application/xml", "text/plain")),
    openapi_extra={"parameters": openapi_parameters(PARAMETERS, bounds=BOUNDS, choices=CHOICES)},
)
def query(request: Request, session: SessionDep) -> Response:
    try:
        params = canonical(request.query_params, ALIASES, set(PARAMETERS))
        level = parse_choice("level", params.get("level", "station"), LEVELS)
        fmt = parse_choice("format", params.get("format", "xml"), ("xml", "text"))
        nodata = int(parse_choice("nodata", params.get("nodata", "204"), ("204", "404")))
        if "includerestricted" in params:
            parse_bool("includerestricted", params["includerestricted"])
        if fmt == "text" and level == "response":
            raise FdsnError(400, "format=text has no response level")
        inventory = _trim(_select(current_inventory(session), params), level)
    except FdsnError as e:
        return error_document(request, e.status, e.message, "station")
    if not any(len(net) or level == "network" for net in inventory):
        return no_data(nodata)
    if fmt == "text":
        text = io.StringIO()  # ObsPy's text writer writes str
        inventory.write(text, format="STATIONTXT", level=level)
        return PlainTextResponse(text.getvalue())
    buf = io.BytesIO()
    inventory.write(buf, format="STATIONXML")
    return Response(buf.getvalue(), media_type="application/xml")


@router.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return SERVICE_VERSION


@router.get("/application.wadl", response_class=Response)
def wadl() -> Response:
    params = (wadl_param(name, kind, doc) for name, (kind, doc) in PARAMETERS.items())
    return wadl_response("station", params, ("application/xml", "text/plain"), errors="204 400 404")
