"""The network at a glance, read in a few plain queries: every station with its channels,
their newest data, their health and the stations' states (what ``/api/v1/stations`` and
``/metrics`` show), and a cheap version of it all that tells when it is worth reading again.

Rows come back as named tuples, not ORM objects: a network of 1,000 stations is 20,000
rows, which the ORM would turn into tracked objects for nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stations.models import (
    Acknowledgement,
    Channel,
    ChannelHealth,
    ChannelKind,
    ChannelStatus,
    HealthState,
    InventoryDocument,
    Network,
    Station,
    StationHealth,
    StationMaintenance,
)

__all__ = [
    "ChannelHealthRow",
    "ChannelRow",
    "Overview",
    "OverviewVersion",
    "StationHealthRow",
    "StationRow",
    "StatusRow",
    "overview_version",
    "read_overview",
]


class ChannelRow(NamedTuple):
    id: int
    location: str
    code: str
    kind: ChannelKind
    sampling_rate: float


class StationRow(NamedTuple):
    id: int
    network_code: str
    code: str
    latitude: float
    longitude: float
    elevation: float
    site_name: str | None
    channels: list[ChannelRow]


class StatusRow(NamedTuple):
    """The newest data seen on a channel."""

    last_sample_time: datetime
    last_arrival_time: datetime
    records: int


class ChannelHealthRow(NamedTuple):
    state: HealthState
    reason: str
    evaluated_at: datetime
    metrics: dict[str, Any]


class StationHealthRow(NamedTuple):
    state: HealthState
    reason: str
    since: datetime
    evaluated_at: datetime


@dataclass(frozen=True)
class Overview:
    """What the database holds about the stations and their health, by station or channel
    id; stations ordered by network and station code."""

    stations: list[StationRow]
    statuses: dict[int, StatusRow]
    channels: dict[int, ChannelHealthRow]
    states: dict[int, StationHealthRow]


def read_overview(session: Session, *, station_ids: Collection[int] | None = None) -> Overview:
    """Every station (or those of ``station_ids``) with its channels and their health."""
    stations_stmt = (
        select(
            Station.id,
            Network.code,
            Station.code,
            Station.latitude,
            Station.longitude,
            Station.elevation,
            Station.site_name,
        )
        .join(Network, Network.id == Station.network_id)
        .order_by(Network.code, Station.code)
    )
    channels_stmt = select(
        Channel.station_id,
        Channel.id,
        Channel.location,
        Channel.code,
        Channel.kind,
        Channel.sampling_rate,
    ).order_by(Channel.id)
    statuses_stmt = select(
        ChannelStatus.channel_id,
        ChannelStatus.last_sample_time,
        ChannelStatus.last_arrival_time,
        ChannelStatus.records,
    )
    healths_stmt = select(
        ChannelHealth.channel_id,
        ChannelHealth.state,
        ChannelHealth.reason,
        ChannelHealth.evaluated_at,
        ChannelHealth.metrics,
    )
    states_stmt = select(
        StationHealth.station_id,
        StationHealth.state,
        StationHealth.reason,
        StationHealth.since,
        StationHealth.evaluated_at,
    )
    if station_ids is not None:
        ids = list(station_ids)
        of_stations = select(Channel.id).where(Channel.station_id.in_(ids))
        stations_stmt = stations_stmt.where(Station.id.in_(ids))
        channels_stmt = channels_stmt.where(Channel.station_id.in_(ids))
        statuses_stmt = statuses_stmt.where(ChannelStatus.channel_id.in_(of_stations))
        healths_stmt = healths_stmt.where(ChannelHealth.channel_id.in_(of_stations))
        states_stmt = states_stmt.where(StationHealth.station_id.in_(ids))
    by_station: defaultdict[int, list[ChannelRow]] = defaultdict(list)
    for row in session.execute(channels_stmt):
        by_station[row[0]].append(ChannelRow(*row[1:]))
    return Overview(
        stations=[
            StationRow(*row, by_station.get(row[0], [])) for row in session.execute(stations_stmt)
        ],
        statuses={row[0]: StatusRow(*row[1:]) for row in session.execute(statuses_stmt)},
        channels={row[0]: ChannelHealthRow(*row[1:]) for row in session.execute(healths_stmt)},
        states={row[0]: StationHealthRow(*row[1:]) for row in session.execute(states_stmt)},
    )


class OverviewVersion(NamedTuple):
    """``rounds`` changes with each health evaluation round stored (each stores every
    station's ``evaluated_at``); ``writes`` with an acknowledgement, a maintenance write, a
    StationXML import or a channel added. Data arriving changes neither."""

    rounds: tuple[Any, ...]
    writes: tuple[Any, ...]


def overview_version(session: Session) -> OverviewVersion:
    """The overview's version: one query over small tables and primary keys."""
    row = session.execute(
        select(
            select(func.max(StationHealth.evaluated_at)).scalar_subquery(),
            select(func.count()).select_from(StationHealth).scalar_subquery(),
            select(func.max(Acknowledgement.id)).scalar_subquery(),
            select(func.max(StationMaintenance.updated_at)).scalar_subquery(),
            select(func.count()).select_from(StationMaintenance).scalar_subquery(),
            select(func.max(InventoryDocument.id)).scalar_subquery(),
            select(func.max(Channel.id)).scalar_subquery(),
            select(func.max(Station.id)).scalar_subquery(),
        )
    ).one()
    return OverviewVersion(tuple(row[:2]), tuple(row[2:]))
