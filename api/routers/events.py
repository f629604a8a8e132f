"""``/api/v1/events``: network events with their detections, with a cursor."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.downloads import (
    MSEED_ANSWER,
    around,
    events_csv,
    events_quakeml,
    list_formats,
    snippet,
)
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import MAX_ID, After, Limit, QueryTime, checked_window, next_link
from api.places import place_name, site_label
from api.quake_schemas import (
    ArrivalOut,
    GroundMotionOut,
    OriginOut,
    PredictedArrivalOut,
    StationMagnitudeOut,
)
from api.routers.detections import detection_out
from api.routers.runs import run_events_answer
from api.schemas import EventOut, Page
from stations.models import Event, EventStatus, Origin, StationMagnitude, StationMotion
from stations.quakes import EventQuake, event_quakes
from stations.queries import channel_index, get_event, list_events

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=BAD_REQUEST)


def event_out(e: Event, quake: EventQuake | None = None) -> EventOut:
    """An event as the API shows it; ``quake``: its origin, magnitudes and ground motion
    (``stations.quakes.event_quakes``)."""
    detections = sorted((detection_out(d) for d in e.detections), key=lambda d: d.onset_time)
    streams = {d.id: d.stream for d in detections}
    place = None
    if e.latitude is not None and e.longitude is not None:
        stations = {d.channel.station for d in e.detections}
        place = place_name(
            e.latitude,
            e.longitude,
            ((s.latitude, s.longitude, site_label(s.site_name, s.code)) for s in stations),
        )
    return EventOut(
        latitude=e.latitude,
        longitude=e.longitude,
        depth_km=e.depth_km,
        place=place,
        magnitude=e.magnitude,
        magnitude_type="ML" if e.magnitude is not None else None,
        magnitude_uncertainty=e.magnitude_uncertainty,
        magnitude_stations=e.magnitude_stations,
        energy_class=e.energy_class,
        origin=origin_out(quake.origin, streams) if quake and quake.origin else None,
        origin_versions=quake.origins if quake else 0,
        station_magnitudes=[magnitude_out(m) for m in quake.magnitudes] if quake else [],
        ground_motion=[motion_out(g) for g in quake.motions] if quake else [],
        id=e.id,
        time=e.time,
        status=e.status.value,
        n_stations=e.n_stations,
        stations=sorted({f"{d.network}.{d.station}" for d in detections}),
        coincidence_sum=e.coincidence_sum,
        duration=e.duration,
        created_at=e.created_at,
        updated_at=e.updated_at,
        detections=detections,
    )


@router.get(
    "",
    response_model=Page[EventOut],
    summary="Network events, oldest stored first",
    responses={**list_formats("text/csv", "application/xml"), 404: {"description": "no such run"}},
)
def events_index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[QueryTime | None, Query(description="event time at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="event time before")] = None,
    min_stations: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="events at this many stations or more")
    ] = None,
    status: EventStatus | None = None,
    after: After = None,
    limit: Limit = 100,
    fmt: Annotated[
        Literal["json", "csv", "quakeml"],
        Query(alias="format", description="json (default), csv, or quakeml (QuakeML 1.2)"),
    ] = "json",
    run: Annotated[
        str | None,
        Query(max_length=100, description="a catalogue run's events, not the live ones"),
    ] = None,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    if run is not None:
        return run_events_answer(
            request, session, run, fmt=fmt, start=start, end=end, after=after, limit=limit
        )
    found = list_events(
        session,
        start=start,
        end=end,
        min_stations=min_stations,
        status=status,
        after_id=after,
        limit=limit,
    )
    quakes = event_quakes(session, event_ids=[e.id for e in found])
    items = [event_out(e, quakes.get(e.id)) for e in found]
    page = Page[EventOut](items=items, next=next_link(request, items[-1].id if items else None))
    if fmt == "csv":
        return events_csv(items, page.next)
    if fmt == "quakeml":
        return events_quakeml(found, quakes, page.next)
    return etag_response(request, page)


@router.get(
    "/{event_id}", response_model=EventOut, responses={404: {"description": "no such event"}}
)
def event_detail(session: SessionDep, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> EventOut:
    return event_with_quake(session, get_event(session, event_id=event_id))


def event_with_quake(session: Session, event: Event) -> EventOut:
    """``event_out`` with the event's origin, magnitudes and ground motion read."""
    return event_out(event, event_quakes(session, event_ids=[event.id]).get(event.id))


def _station_code(station: Any) -> str:
    return f"{station.network.code}.{station.code}"


def origin_out(o: Origin, streams: dict[int, str]) -> OriginOut:
    return OriginOut(
        version=o.version,
        status=o.status.value,
        reason=o.reason,
        time=o.time,
        latitude=o.latitude,
        longitude=o.longitude,
        depth_km=o.depth_km,
        time_error_s=o.time_error_s,
        latitude_error_km=o.latitude_error_km,
        longitude_error_km=o.longitude_error_km,
        depth_error_km=o.depth_error_km,
        semi_major_km=o.semi_major_km,
        semi_minor_km=o.semi_minor_km,
        ellipse_azimuth=o.ellipse_azimuth,
        rms=o.rms,
        azimuthal_gap=o.azimuthal_gap,
        n_phases=o.n_phases,
        n_stations=o.n_stations,
        min_distance_km=o.min_distance_km,
        max_distance_km=o.max_distance_km,
        quality=o.quality,
        created_at=o.created_at,
        arrivals=[
            ArrivalOut(
                detection_id=a.detection_id,
                stream=streams.get(a.detection_id, ""),
                phase="S" if a.phase == "S" else "P",
                residual=a.residual,
                weight=a.weight,
                distance_km=a.distance_km,
                azimuth=a.azimuth,
            )
            for a in o.arrivals
        ],
        predicted=[
            PredictedArrivalOut(
                station=_station_code(p.station),
                phase="S" if p.phase == "S" else "P",
                time=p.time,
                distance_km=p.distance_km,
            )
            for p in o.predicted
        ],
    )


def magnitude_out(m: StationMagnitude) -> StationMagnitudeOut:
    return StationMagnitudeOut(
        station=_station_code(m.station),
        channels=[c for c in m.channels.split(",") if c],
        amplitudes_mm=[float(a) for a in m.amplitudes_mm.split(",") if a],
        distance_km=m.distance_km,
        magnitude=m.magnitude,
        correction=m.correction,
        used=m.used,
    )


def motion_out(g: StationMotion) -> GroundMotionOut:
    return GroundMotionOut(
        station=_station_code(g.station),
        channels=[c for c in g.channels.split(",") if c],
        distance_km=g.distance_km,
        pga_cms2=g.pga_cms2,
        pga_g_pct=100.0 * g.pga_cms2 / 980.665,
        pgv_cms=g.pgv_cms,
        psa_03_g_pct=g.psa03_g_pct,
        psa_10_g_pct=g.psa10_g_pct,
        psa_30_g_pct=g.psa30_g_pct,
        intensity=g.intensity,
    )


@router.get(
    "/{event_id}/waveforms.mseed",
    response_class=Response,
    summary="miniSEED from the archive around an event, records as archived",
    responses={**MSEED_ANSWER, 404: {"description": "no such event"}},
)
def event_waveforms(
    session: SessionDep,
    settings: SettingsDep,
    event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    before: Annotated[
        float, Query(ge=0, le=600, description="seconds before the first onset")
    ] = 30.0,
    after: Annotated[
        float, Query(ge=0, le=3600, description="seconds after the last onset")
    ] = 120.0,
    channels: Annotated[
        Literal["station", "detection"],
        Query(description="every channel of the event's stations, or the detecting ones"),
    ] = "station",
) -> Response:
    event = get_event(session, event_id=event_id)
    onsets = [d.onset_time for d in event.detections] or [event.time]
    start, end = around(min(onsets), max(onsets), before, after)
    picked = {
        (d.channel.station.network.code, d.channel.station.code, d.channel.location, d.channel.code)
        for d in event.detections
    }
    if channels == "station":
        stations = {(net, sta) for net, sta, _, _ in picked}
        picked = {
            (k.network, k.station, k.location, k.channel)
            for k in channel_index(session)
            if (k.network, k.station) in stations
        }
    return snippet(
        session,
        settings.archive_dir,
        streams=picked,
        start=start,
        end=end,
        filename=f"larza-event-{event_id}.mseed",
    )
