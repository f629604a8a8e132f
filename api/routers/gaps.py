"""``/api/v1/gaps``: spans missing from the data received, in the order they were found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep, SettingsDep
from api.etag import etag_response
from api.pagination import After, Limit, as_utc, next_link
from api.schemas import GapOut, Page
from stations.errors import LarzaError
from stations.gaps import list_gaps
from stations.models import DataGap

router = APIRouter(prefix="/api/v1/gaps", tags=["stations"])


def gap_out(g: DataGap) -> GapOut:
    return GapOut(
        id=g.id,
        stream=f"{g.network}.{g.station}.{g.location}.{g.channel}",
        network=g.network,
        station=g.station,
        location=g.location,
        channel=g.channel,
        start=g.start,
        end=g.end,
        seconds=g.seconds,
        cause=g.cause,
        detected_at=g.detected_at,
    )


@router.get("", response_model=Page[GapOut], summary="Data gaps, oldest found first")
def gaps_index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    station: Annotated[
        str | None,
        Query(pattern=r"^([A-Za-z0-9]{1,8}\.)?[A-Za-z0-9]{1,8}$", description="STA or NET.STA"),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="gaps ending at or after this time")
    ] = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    if limit > settings.page_size_max:
        raise LarzaError(f"limit must be at most {settings.page_size_max}, got {limit}")
    network = None
    if station is not None and "." in station:
        network, station = station.split(".")
    found = list_gaps(
        session,
        network=network.upper() if network else None,
        station=station.upper() if station else None,
        since=as_utc(since, "since"),
        after=after,
        limit=limit,
    )
    items = [gap_out(g) for g in found]
    page = Page[GapOut](items=items, next=next_link(request, items[-1].id if items else None))
    return etag_response(request, page)
