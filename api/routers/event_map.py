"""``/api/v1/events/{id}/map.svg``: an event's epicentre map for its dashboard page (see
:mod:`api.event_map`), drawn from the event's latest origin and the inventory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import SessionDep
from api.errors import BAD_REQUEST
from api.event_map import Epicentre, MapStation, event_map_svg
from api.pagination import MAX_ID
from stations.models import Event, Origin, Station
from stations.quakes import event_quakes
from stations.queries import get_event, list_stations

router = APIRouter(prefix="/api/v1", tags=["plots"], responses=BAD_REQUEST)

SVG = "image/svg+xml"


def _in_service(station: Station, time: datetime) -> bool:
    start, end = station.start_date, station.end_date
    return (start is None or _utc(start) <= time) and (end is None or _utc(end) >= time)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def map_stations(event: Event, origin: Origin | None, stations: list[Station]) -> list[MapStation]:
    """The stations in service at the event's time (and any that detected it), each marked
    used when the origin used one of its arrivals (weight > 0) or, for an event not
    located, when it detected the event; the residuals in its note."""
    station_of = {
        d.id: f"{d.channel.station.network.code}.{d.channel.station.code}" for d in event.detections
    }
    notes: dict[str, list[str]] = {}
    used: set[str] = set()
    if origin is not None and origin.latitude is not None:
        for a in sorted(origin.arrivals, key=lambda a: a.phase):
            sid = station_of.get(a.detection_id)
            if sid is None:
                continue
            if a.weight > 0:
                used.add(sid)
            residual = "unknown" if a.residual is None else f"{a.residual:+.2f} s"
            notes.setdefault(sid, []).append(
                f"{a.phase} residual {residual}, weight {a.weight:.2f}"
            )
    else:
        used = set(station_of.values())
    detected = set(station_of.values())
    time = _utc(event.time)
    out = []
    for s in stations:
        sid = f"{s.network.code}.{s.code}"
        if _in_service(s, time) or sid in detected:
            note = "; ".join(notes.get(sid, []))
            out.append(MapStation(sid, s.latitude, s.longitude, sid in used, note))
    return out


def map_epicentre(origin: Origin | None) -> Epicentre | None:
    """The origin's epicentre and horizontal uncertainty; ``None`` when not located."""
    if origin is None or origin.latitude is None or origin.longitude is None:
        return None
    errors = [e for e in (origin.latitude_error_km, origin.longitude_error_km) if e is not None]
    return Epicentre(
        latitude=origin.latitude,
        longitude=origin.longitude,
        semi_major_km=origin.semi_major_km,
        semi_minor_km=origin.semi_minor_km,
        azimuth=origin.ellipse_azimuth,
        error_km=max(errors) if errors else None,
    )


@router.get(
    "/events/{event_id}/map.svg",
    summary="An event's epicentre map: stations used and not, the epicentre and its "
    "uncertainty, graticule and scale (SVG)",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}, "description": "an SVG image"},
        404: {"description": "no such event"},
    },
)
def event_map(session: SessionDep, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    event = get_event(session, event_id=event_id)
    quake = event_quakes(session, event_ids=[event.id]).get(event.id)
    origin = quake.origin if quake is not None else None
    epicentre = map_epicentre(origin)
    stations = map_stations(event, origin, list(list_stations(session)))
    if epicentre is None:
        note = "not located" + (
            f": {origin.reason}" if origin is not None and origin.reason else ""
        )
        kind = ""
    else:
        note = ""
        kind = "68 % confidence ellipse" if epicentre.has_ellipse else "error circle"
    title = (
        f"Map of event {event_id}: "
        + (
            f"epicentre {epicentre.latitude:.3f}°, {epicentre.longitude:.3f}° with its {kind}; "
            if epicentre is not None
            else "not located; "
        )
        + f"{sum(s.used for s in stations)} of {len(stations)} stations used"
    )
    body = event_map_svg(title, stations, epicentre, note)
    return Response(body, media_type=SVG, headers={"Cache-Control": "max-age=10"})
