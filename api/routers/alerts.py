"""``/api/v1/alerts``: early-warning alerts, every version kept; one also as CAP 1.2 XML."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.alert_schemas import AlertOut, alert_out, alert_station_ids
from api.cap import cap_document
from api.deps import SessionDep, SettingsDep
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import MAX_ID, After, Limit, QueryTime, checked_window, next_link
from api.schemas import Page
from stations.alerts import alert_stations, get_alert, list_alerts
from stations.errors import LarzaError

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=BAD_REQUEST)

CAP_MEDIA_TYPE = "application/cap+xml"


@router.get("", response_model=Page[AlertOut], summary="Alerts, oldest first")
def alerts_index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    status: Literal["active", "cancelled", "ended"] | None = None,
    start: Annotated[QueryTime | None, Query(description="alerts created at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="alerts created before")] = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    found = list_alerts(session, status=status, start=start, end=end, after_id=after, limit=limit)
    named = alert_stations(session, ids=alert_station_ids(v for a in found for v in a.versions))
    items = [alert_out(a, named) for a in found]
    page = Page[AlertOut](items=items, next=next_link(request, items[-1].id if items else None))
    return etag_response(request, page)


@router.get(
    "/{alert_id}",
    response_model=AlertOut,
    responses={
        404: {"description": "no such alert"},
        200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "the alert (CAP with format=cap)"},
    },
)
def alert_detail(
    session: SessionDep,
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    fmt: Annotated[
        Literal["json", "cap"],
        Query(alias="format", description="json (default), or cap: its latest version as CAP 1.2"),
    ] = "json",
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="with format=cap: that version")
    ] = None,
) -> Response | AlertOut:
    alert = get_alert(session, alert_id=alert_id)
    if fmt == "json":
        return alert_out(alert, alert_stations(session, ids=alert_station_ids(alert.versions)))
    chosen = alert.versions[-1]
    if version is not None:
        match = [v for v in alert.versions if v.version == version]
        if not match:
            raise LarzaError(f"alert {alert_id} has versions 1 to {alert.version}, not {version}")
        chosen = match[0]
    return Response(cap_document(alert, chosen), media_type=CAP_MEDIA_TYPE)
