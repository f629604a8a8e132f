"""``/api/v1/events``: network events with their detections, with a cursor."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

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
from api.routers.detections import detection_out
from api.routers.runs import run_events_page
from api.schemas import EventOut, Page
from stations.errors import LarzaError
from stations.models import Event, EventStatus
from stations.queries import channel_index, get_event, list_events

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=BAD_REQUEST)


def event_out(e: Event) -> EventOut:
    detections = sorted((detection_out(d) for d in e.detections), key=lambda d: d.onset_time)
    return EventOut(
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
        Query(max_length=100, description="a catalogue run's events (JSON), not the live ones"),
    ] = None,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    if run is not None:
        if fmt != "json":
            raise LarzaError(f"a run's events are served as JSON only, not format={fmt}")
        return etag_response(
            request,
            run_events_page(request, session, run, start=start, end=end, after=after, limit=limit),
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
    items = [event_out(e) for e in found]
    page = Page[EventOut](items=items, next=next_link(request, items[-1].id if items else None))
    if fmt == "csv":
        return events_csv(items, page.next)
    if fmt == "quakeml":
        return events_quakeml(found, page.next)
    return etag_response(request, page)


@router.get(
    "/{event_id}", response_model=EventOut, responses={404: {"description": "no such event"}}
)
def event_detail(session: SessionDep, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> EventOut:
    return event_out(get_event(session, event_id=event_id))


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
