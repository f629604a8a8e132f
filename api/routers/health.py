"""Health history: every station's state changes (a cursor for alerting scripts) and one
channel's metric snapshots over a time range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import SessionDep, SettingsDep
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import After, Limit, QueryTime, checked_window, next_link
from api.routers.stations import changes_out
from api.schemas import Page, SnapshotOut, StateChangeOut
from stations.errors import NotFoundError
from stations.health import health_history, list_state_changes
from stations.queries import ChannelKey, channel_index

router = APIRouter(prefix="/api/v1", tags=["health"], responses=BAD_REQUEST)


@router.get(
    "/state-changes",
    response_model=Page[StateChangeOut],
    summary="Station state changes of the whole network, in the order they happened",
    description="Poll with `after` set to the last `id` seen: no change is missed or repeated.",
)
def state_changes(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[QueryTime | None, Query(description="changes at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="changes before")] = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    found = list_state_changes(session, start=start, end=end, after_id=after, limit=limit)
    items = changes_out(session, found)
    page = Page[StateChangeOut](
        items=items, next=next_link(request, items[-1].id if items else None)
    )
    return etag_response(request, page)


@router.get(
    "/channels/{stream}/health",
    response_model=Page[SnapshotOut],
    summary="A channel's health snapshots over a time range, oldest first",
    description="One snapshot a minute for recent days; hourly means for older times.",
    responses={404: {"description": "no such channel"}},
)
def channel_history(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    stream: str = Path(
        description="NET.STA.LOC.CHA, e.g. TJ.SAREZ..HHZ",
        pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{0,8}\.[A-Za-z0-9]{3}$",
    ),
    start: Annotated[QueryTime | None, Query(description="snapshots at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="snapshots before")] = None,
    after: After = None,
    limit: Limit = 1000,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    network, station, location, code = stream.upper().split(".")
    channel = channel_index(session).get(ChannelKey(network, station, location, code))
    if channel is None:
        raise NotFoundError("channel", stream.upper())
    found = health_history(
        session, channel_id=channel.id, start=start, end=end, after_id=after, limit=limit
    )
    items = [
        SnapshotOut(id=h.id, time=h.time, interval_s=h.interval_s, metrics=h.metrics) for h in found
    ]
    page = Page[SnapshotOut](items=items, next=next_link(request, items[-1].id if items else None))
    return etag_response(request, page)
