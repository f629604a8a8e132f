"""``/api/v1/stations``: every station with its state, reason and channels' health; one
station; its state-change history. And what operators write, with an API key: StationXML
imports, maintenance with a note, acknowledgements of a station's state.

States come from the ingest worker's health evaluation (stored each few seconds). When no
worker has evaluated a station for ``stale_after_s``, the stored state cannot be trusted: the
station is marked stale and its state is worked out here from data latency alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import TypeAdapter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import WriteKey
from api.bodies import read_bounded
from api.cache import Built, RoundCache, built, cached_response
from api.deps import (
    RoundCacheDep,
    SessionDep,
    SessionOpener,
    SettingsDep,
    app_settings,
    round_cache,
    session_opener,
)
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import After, Limit, QueryTime, checked_window, next_link
from api.schemas import (
    AcknowledgedOut,
    AcknowledgementIn,
    AcknowledgementOut,
    ChannelOut,
    ImportOut,
    MaintenanceOut,
    Page,
    StateChangeOut,
    StationOut,
    StationPatch,
)
from api.settings import ApiSettings
from api.state import availability_now, station_verdict
from stations.health import list_state_changes
from stations.inventory import import_stationxml_bytes
from stations.models import Acknowledgement, HealthState, StateChange, StationMaintenance
from stations.operations import (
    UNCHANGED,
    AcknowledgementConflict,
    acknowledge_state,
    acknowledgements_of,
    current_acknowledgements,
    list_acknowledgements,
    maintenances,
    set_maintenance,
)
from stations.overview import ChannelHealthRow, Overview, StationRow, read_overview
from stations.queries import get_station

router = APIRouter(prefix="/api/v1/stations", tags=["stations"], responses=BAD_REQUEST)

StationId = Annotated[
    str,
    Path(description="NET.STA, e.g. TJ.SAREZ", pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}$"),
]
STATIONXML_MAX_BYTES = 10 * 1024 * 1024
"""Largest StationXML document a POST may send (a network with responses is a few MB)."""
XML_TYPES = ("application/xml", "text/xml")
_WRITE: dict[int | str, dict[str, Any]] = {
    401: {"description": "no API key sent"},
    403: {"description": "the API key is not valid or is revoked"},
}
_NO_STATION: dict[int | str, dict[str, Any]] = {404: {"description": "no such station"}}


@dataclass(frozen=True)
class Known:
    """What the database holds about the stations' health, read once per request (or once
    per evaluation round for the whole network: see ``api.overview``)."""

    overview: Overview
    acknowledged: dict[int, Acknowledgement]
    maintenance: dict[int, StationMaintenance]


def known_health(session: Session, station_ids: Collection[int] | None = None) -> Known:
    """The health of every station, or of those of ``station_ids``."""
    overview = read_overview(session, station_ids=station_ids)
    ids = [s.id for s in overview.stations]
    return Known(
        overview,
        current_acknowledgements(session, station_ids=ids),
        maintenances(session, station_ids=ids),
    )


def acknowledged_out(acknowledgement: Acknowledgement | None) -> AcknowledgedOut | None:
    if acknowledgement is None:
        return None
    return AcknowledgedOut(
        by=acknowledgement.api_key.name,
        at=acknowledgement.created_at,
        comment=acknowledgement.comment,
    )


def maintenance_out(maintenance: StationMaintenance | None) -> MaintenanceOut | None:
    if maintenance is None:
        return None
    return MaintenanceOut(
        on=maintenance.active,
        note=maintenance.note,
        by=maintenance.api_key.name,
        since=maintenance.since,
        updated_at=maintenance.updated_at,
    )


def _silent(health: ChannelHealthRow) -> bool:
    """The worker found no data on the channel for longer than it allows (DOWN, or an SOH
    channel's "no data for ...")."""
    return health.state is HealthState.DOWN or health.reason.startswith("no data for")


def station_view(
    station: StationRow, known: Known, now: datetime, settings: ApiSettings
) -> StationOut:
    channels = []
    overview = known.overview
    stored = overview.states.get(station.id)
    fresh = (
        stored is not None and (now - stored.evaluated_at).total_seconds() <= settings.stale_after_s
    )
    station_id = f"{station.network_code}.{station.code}"
    for c in sorted(station.channels, key=lambda c: (c.location, c.code)):
        status = overview.statuses.get(c.id)
        health = overview.channels.get(c.id) if fresh else None
        latency = (now - status.last_sample_time).total_seconds() if status else None
        channels.append(
            ChannelOut(
                id=f"{station_id}.{c.location}.{c.code}",
                location=c.location,
                code=c.code,
                kind=c.kind.value,
                sampling_rate=c.sampling_rate,
                last_sample_time=status.last_sample_time if status else None,
                last_arrival_time=status.last_arrival_time if status else None,
                data_latency_s=latency,
                feed_latency_s=(now - status.last_arrival_time).total_seconds() if status else None,
                records=status.records if status else 0,
                state=health.state.value if health else "UNKNOWN",
                reason=health.reason if health else "",
                evaluated_at=health.evaluated_at if health else None,
                availability_pct=availability_now(
                    health.metrics, silent=_silent(health), latency_s=latency
                )
                if health
                else None,
                metrics=health.metrics if health else {},
            )
        )
    if fresh and stored is not None:
        state, reason = stored.state.value, stored.reason
    else:
        verdict = station_verdict(
            channels, ok_s=settings.latency_ok_s, down_s=settings.latency_down_s
        )
        last = "never" if stored is None else f"not since {stored.evaluated_at:%Y-%m-%d %H:%M:%S}"
        state = verdict.state
        reason = f"health not evaluated by a worker ({last}); from latency: {verdict.reason}"
    times = [c.last_sample_time for c in channels if c.last_sample_time is not None]
    newest = max(times) if times else None
    return StationOut(
        id=station_id,
        network=station.network_code,
        code=station.code,
        latitude=station.latitude,
        longitude=station.longitude,
        elevation=station.elevation,
        site_name=station.site_name,
        state=state,
        reason=reason,
        since=stored.since if fresh and stored else None,
        evaluated_at=stored.evaluated_at if stored else None,
        stale=not fresh,
        last_sample_time=newest,
        data_latency_s=(now - newest).total_seconds() if newest else None,
        acknowledged=acknowledged_out(known.acknowledged.get(station.id)),
        maintenance=maintenance_out(known.maintenance.get(station.id)),
        channels=channels,
    )


def one_station(session: Session, settings: ApiSettings, network: str, code: str) -> StationOut:
    station = get_station(session, network=network, station=code)
    known = known_health(session, [station.id])
    return station_view(known.overview.stations[0], known, datetime.now(UTC), settings)


STATION_LIST = TypeAdapter(list[StationOut])


@dataclass(frozen=True)
class StationList:
    """The stations as listed, and each channel's NET.STA.LOC.CHA by its id."""

    views: list[StationOut]
    streams: dict[int, str]


def build_station_list(open_session: SessionOpener, settings: ApiSettings) -> Built:
    with open_session() as session:
        known = known_health(session)
    now = datetime.now(UTC)
    views = [station_view(s, known, now, settings) for s in known.overview.stations]
    streams = {
        c.id: f"{s.network_code}.{s.code}.{c.location}.{c.code}"
        for s in known.overview.stations
        for c in s.channels
    }
    body = STATION_LIST.dump_json(views)
    return built(body, "application/json", StationList(views, streams))


async def station_list(
    cache: RoundCache, open_session: SessionOpener, settings: ApiSettings, *, current: bool = False
) -> Built:
    """The station list as cached (built in a thread if need be; see ``api.cache``)."""
    return await cache.get(
        "stations",
        lambda: run_in_threadpool(build_station_list, open_session, settings),
        current=current,
    )


@router.get(
    "",
    response_model=list[StationOut],
    summary="Every station with its channels' latency",
    description="Built once per health evaluation round (and after each operator's write): "
    "latencies are those of that moment. Answers an `ETag`; `If-None-Match` gets 304.",
    responses={304: {"description": "unchanged since the ETag sent"}},
)
async def stations_index(request: Request) -> Response:
    answer = await station_list(
        round_cache(request), session_opener(request), app_settings(request)
    )
    return cached_response(request, answer)


@router.get(
    "/{station_id}",
    response_model=StationOut,
    summary="One station",
    responses=_NO_STATION,
)
def station_detail(session: SessionDep, settings: SettingsDep, station_id: StationId) -> StationOut:
    network, code = station_id.upper().split(".")
    return one_station(session, settings, network, code)


async def stationxml_body(request: Request) -> bytes:
    """The request's body, an XML document of at most ``STATIONXML_MAX_BYTES``.

    A declared ``Content-Length`` over the limit is refused before reading; a body sent
    without one is refused as soon as it passes the limit."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in XML_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send StationXML as {' or '.join(XML_TYPES)}, got {media_type or 'no Content-Type'}",
        )
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"a StationXML document may have at most {STATIONXML_MAX_BYTES} bytes",
    )
    return await read_bounded(request, STATIONXML_MAX_BYTES, too_large)


@router.post(
    "",
    response_model=ImportOut,
    summary="Import StationXML: add or update its networks, stations and channels",
    description="As `larza stations import FILE` does: the document whole, or nothing of it. "
    "Of several epochs of a station or channel, the one starting last is kept.",
    responses={
        **_WRITE,
        400: {"description": "not valid StationXML (the message says why)"},
        413: {"description": f"the document is larger than {STATIONXML_MAX_BYTES} bytes"},
        415: {"description": "the body is not sent as application/xml or text/xml"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a StationXML document",
            "content": {t: {"schema": {"type": "string"}} for t in XML_TYPES},
        }
    },
)
def stations_import(
    session: SessionDep,
    cache: RoundCacheDep,
    key: WriteKey,
    body: Annotated[bytes, Depends(stationxml_body)],
    name: Annotated[
        str,
        Query(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
            description="the document's name, as a file name: a later import under the same "
            "name replaces it in /fdsnws/station",
        ),
    ] = "api.xml",
) -> ImportOut:
    with session.begin_nested():  # whole or nothing, even inside a caller's transaction
        summary = import_stationxml_bytes(
            session, body, name=name, api_key_id=key.id, now=datetime.now(UTC)
        )
    session.commit()
    cache.invalidate()
    return ImportOut(
        name=summary.source,
        networks=summary.networks,
        stations=summary.stations,
        channels=summary.channels,
        station_ids=list(summary.station_ids),
    )


@router.patch(
    "/{station_id}",
    response_model=StationOut,
    summary="Put a station in maintenance or take it out, with a note",
    description="Fields left out stay as they are; `note: null` clears the note. A station "
    "in maintenance is evaluated as usual: maintenance is only shown.",
    responses={**_WRITE, **_NO_STATION},
)
def station_patch(
    session: SessionDep,
    cache: RoundCacheDep,
    settings: SettingsDep,
    key: WriteKey,
    station_id: StationId,
    body: StationPatch,
) -> StationOut:
    network, code = station_id.upper().split(".")
    set_maintenance(
        session,
        network=network,
        station=code,
        api_key_id=key.id,
        now=datetime.now(UTC),
        active=UNCHANGED if body.maintenance is None else body.maintenance,
        note=body.note if "note" in body.model_fields_set else UNCHANGED,
    )
    session.commit()
    cache.invalidate()
    return one_station(session, settings, network, code)


def acknowledgement_out(station: str, acknowledgement: Acknowledgement) -> AcknowledgementOut:
    return AcknowledgementOut(
        id=acknowledgement.id,
        station=station,
        state=acknowledgement.state_change.to_state.value,
        state_change_id=acknowledgement.state_change_id,
        comment=acknowledgement.comment,
        by=acknowledgement.api_key.name,
        at=acknowledgement.created_at,
    )


@router.post(
    "/{station_id}/acknowledgements",
    response_model=AcknowledgementOut,
    status_code=status.HTTP_201_CREATED,
    summary="Acknowledge a station's current state: seen, someone is on it",
    description="Acknowledges the state the station's latest state change began; its next "
    "change leaves it unacknowledged again.",
    responses={
        **_WRITE,
        **_NO_STATION,
        409: {"description": "the station is OK, has no state yet, or is acknowledged already"},
    },
)
def acknowledgement_create(
    session: SessionDep,
    cache: RoundCacheDep,
    key: WriteKey,
    station_id: StationId,
    body: AcknowledgementIn,
) -> AcknowledgementOut:
    network, code = station_id.upper().split(".")
    try:
        acknowledgement = acknowledge_state(
            session,
            network=network,
            station=code,
            api_key_id=key.id,
            comment=body.comment,
            now=datetime.now(UTC),
        )
    except AcknowledgementConflict as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from e
    out = acknowledgement_out(f"{network}.{code}", acknowledgement)
    session.commit()
    cache.invalidate()
    return out


@router.get(
    "/{station_id}/acknowledgements",
    response_model=list[AcknowledgementOut],
    summary="A station's acknowledgements, newest first",
    responses=_NO_STATION,
)
def acknowledgements_index(
    session: SessionDep, settings: SettingsDep, station_id: StationId, limit: Limit = 100
) -> list[AcknowledgementOut]:
    checked_window(None, None, limit, settings.page_size_max)
    network, code = station_id.upper().split(".")
    station = get_station(session, network=network, station=code)
    found = list_acknowledgements(session, station_id=station.id, limit=limit)
    return [acknowledgement_out(f"{network}.{code}", a) for a in found]


def change_out(
    change: StateChange, acknowledgement: Acknowledgement | None = None
) -> StateChangeOut:
    return StateChangeOut(
        id=change.id,
        station=f"{change.station.network.code}.{change.station.code}",
        time=change.time,
        from_state=change.from_state.value,
        to_state=change.to_state.value,
        reason=change.reason,
        acknowledged=acknowledged_out(acknowledgement),
    )


def changes_out(session: SessionDep, changes: Sequence[StateChange]) -> list[StateChangeOut]:
    """State changes with the acknowledgement of each that has one."""
    acknowledged = acknowledgements_of(session, state_change_ids=[c.id for c in changes])
    return [change_out(c, acknowledged.get(c.id)) for c in changes]


@router.get(
    "/{station_id}/history",
    response_model=Page[StateChangeOut],
    summary="A station's state changes, oldest first",
    responses={404: {"description": "no such station"}},
)
def station_history(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    station_id: StationId,
    start: Annotated[QueryTime | None, Query(description="changes at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="changes before")] = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    network, code = station_id.upper().split(".")
    station = get_station(session, network=network, station=code)
    found = list_state_changes(
        session, station_ids=[station.id], start=start, end=end, after_id=after, limit=limit
    )
    items = changes_out(session, found)
    page = Page[StateChangeOut](
        items=items, next=next_link(request, items[-1].id if items else None)
    )
    return etag_response(request, page)
