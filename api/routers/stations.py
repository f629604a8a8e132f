"""``/api/v1/stations``: the station list with live latency, and one station."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Path

from api.deps import SessionDep, SettingsDep
from api.schemas import ChannelOut, StationOut
from api.settings import ApiSettings
from api.state import station_verdict
from stations.models import ChannelStatus, Station
from stations.queries import channel_statuses, get_station, list_stations

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


def station_view(
    station: Station, statuses: dict[int, ChannelStatus], now: datetime, settings: ApiSettings
) -> StationOut:
    channels = []
    for c in sorted(station.channels, key=lambda c: (c.location, c.code)):
        status = statuses.get(c.id)
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
            )
        )
    verdict = station_verdict(channels, ok_s=settings.latency_ok_s, down_s=settings.latency_down_s)
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
        state=verdict.state,
        reason=verdict.reason,
        last_sample_time=newest,
        data_latency_s=(now - newest).total_seconds() if newest else None,
        channels=channels,
    )


@router.get("", response_model=list[StationOut], summary="Every station with its channels' latency")
def stations_index(session: SessionDep, settings: SettingsDep) -> list[StationOut]:
    found = list_stations(session)
    statuses = channel_statuses(session, channel_ids=(c.id for s in found for c in s.channels))
    now = datetime.now(UTC)
    return [station_view(s, statuses, now, settings) for s in found]


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
    statuses = channel_statuses(session, channel_ids=(c.id for c in station.channels))
    return station_view(station, statuses, datetime.now(UTC), settings)
