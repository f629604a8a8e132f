"""``/api/v1/events``: network events with their detections, with a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import SessionDep, SettingsDep
from api.etag import etag_response
from api.pagination import MAX_ID, After, Limit, checked_window, next_link
from api.routers.detections import detection_out
from api.schemas import EventOut, Page
from stations.models import Event, EventStatus
from stations.queries import get_event, list_events

router = APIRouter(prefix="/api/v1/events", tags=["events"])


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


@router.get("", response_model=Page[EventOut], summary="Network events, oldest stored first")
def events_index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[datetime | None, Query(description="event time at or after")] = None,
    end: Annotated[datetime | None, Query(description="event time before")] = None,
    min_stations: Annotated[int | None, Query(ge=1)] = None,
    status: EventStatus | None = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
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
    return etag_response(request, page)


@router.get(
    "/{event_id}", response_model=EventOut, responses={404: {"description": "no such event"}}
)
def event_detail(session: SessionDep, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> EventOut:
    return event_out(get_event(session, event_id=event_id))
