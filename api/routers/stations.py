"""``/api/v1/stations``: every station with its state, reason and channels' health; one
station; its state-change history.

States come from the ingest worker's health evaluation (stored each few seconds). When no
worker has evaluated a station for ``stale_after_s``, the stored state cannot be trusted: the
station is marked stale and its state is worked out here from data latency alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import SessionDep, SettingsDep
from api.etag import etag_response
from api.pagination import After, Limit, checked_window, next_link
from api.schemas import ChannelOut, Page, StateChangeOut, StationOut
from api.settings import ApiSettings
from api.state import station_verdict
from stations.health import channel_healths, list_state_changes, station_states
from stations.models import ChannelHealth, ChannelStatus, StateChange, Station, StationHealth
from stations.queries import channel_statuses, get_station, list_stations

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


@dataclass(frozen=True)
class Known:
    """What the database holds about the stations' health, read once per request."""

    statuses: dict[int, ChannelStatus]
    channels: dict[int, ChannelHealth]
    stations: dict[int, StationHealth]


def known_health(session: SessionDep, stations: list[Station]) -> Known:
    ids = [c.id for s in stations for c in s.channels]
    return Known(
        channel_statuses(session, channel_ids=ids),
        channel_healths(session, channel_ids=ids),
        station_states(session),
    )


def station_view(
    station: Station, known: Known, now: datetime, settings: ApiSettings
) -> StationOut:
    channels = []
    stored = known.stations.get(station.id)
    fresh = (
        stored is not None and (now - stored.evaluated_at).total_seconds() <= settings.stale_after_s
    )
    for c in sorted(station.channels, key=lambda c: (c.location, c.code)):
        status = known.statuses.get(c.id)
        health = known.channels.get(c.id) if fresh else None
        channels.append(
            ChannelOut(
                id=f"{station.network.code}.{station.code}.{c.location}.{c.code}",
                location=c.location,
                code=c.code,
                kind=c.kind.value,
                sampling_rate=c.sampling_rate,
                last_sample_time=status.last_sample_time if status else None,
                last_arrival_time=status.last_arrival_time if status else None,
                data_latency_s=(now - status.last_sample_time).total_seconds() if status else None,
                feed_latency_s=(now - status.last_arrival_time).total_seconds() if status else None,
                records=status.records if status else 0,
                state=health.state.value if health else "UNKNOWN",
                reason=health.reason if health else "",
                evaluated_at=health.evaluated_at if health else None,
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
        id=f"{station.network.code}.{station.code}",
        network=station.network.code,
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
        channels=channels,
    )


@router.get("", response_model=list[StationOut], summary="Every station with its channels' latency")
def stations_index(session: SessionDep, settings: SettingsDep) -> list[StationOut]:
    found = list(list_stations(session))
    known = known_health(session, found)
    now = datetime.now(UTC)
    return [station_view(s, known, now, settings) for s in found]


@router.get(
    "/{station_id}",
    response_model=StationOut,
    summary="One station",
    responses={404: {"description": "no such station"}},
)
def station_detail(
    session: SessionDep,
    settings: SettingsDep,
    station_id: str = Path(
        description="NET.STA, e.g. TJ.SAREZ", pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}$"
    ),
) -> StationOut:
    network, code = station_id.upper().split(".")
    station = get_station(session, network=network, station=code)
    return station_view(station, known_health(session, [station]), datetime.now(UTC), settings)


def change_out(change: StateChange) -> StateChangeOut:
    return StateChangeOut(
        id=change.id,
        station=f"{change.station.network.code}.{change.station.code}",
        time=change.time,
        from_state=change.from_state.value,
        to_state=change.to_state.value,
        reason=change.reason,
    )


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
    station_id: str = Path(
        description="NET.STA, e.g. TJ.SAREZ", pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}$"
    ),
    start: Annotated[datetime | None, Query(description="changes at or after")] = None,
    end: Annotated[datetime | None, Query(description="changes before")] = None,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    network, code = station_id.upper().split(".")
    station = get_station(session, network=network, station=code)
    found = list_state_changes(
        session, station_ids=[station.id], start=start, end=end, after_id=after, limit=limit
    )
    items = [change_out(c) for c in found]
    page = Page[StateChangeOut](
        items=items, next=next_link(request, items[-1].id if items else None)
    )
    return etag_response(request, page)
