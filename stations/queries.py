"""Query functions: keyword-only, build ``select()``, flush but never commit.

The caller owns the transaction: ``with factory() as s, s.begin(): store_detection(s, ...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

from stations._bulk import upsert_many
from stations.errors import NotFoundError
from stations.models import (
    ArchiveFile,
    Channel,
    ChannelKind,
    ChannelStatus,
    Detection,
    Event,
    EventDetection,
    EventStatus,
    InventoryDocument,
    Network,
    Station,
    StreamState,
)

__all__ = [
    "ChannelKey",
    "NewDetection",
    "StreamPosition",
    "add_archived_records",
    "archive_file_size",
    "archive_file_sizes",
    "channel_index",
    "channel_statuses",
    "detection_counts",
    "ensure_channels",
    "get_detection",
    "get_event",
    "get_station",
    "inventory_version",
    "list_detections",
    "list_events",
    "list_stations",
    "record_arrival",
    "record_arrivals",
    "require_station",
    "save_stream_state",
    "save_stream_states",
    "station_newest_samples",
    "store_detection",
    "store_detections",
    "store_event",
    "stream_positions",
]


class ChannelKey(NamedTuple):
    """A channel's codes; a named tuple, as it keys several dictionaries per record in the
    worker (its hash is computed in C)."""

    network: str
    station: str
    location: str
    channel: str

    def __str__(self) -> str:
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"


@dataclass(frozen=True)
class StreamPosition:
    """A station's last record archived from a server: its sequence number and start time."""

    last_seq: int
    last_start: datetime


def list_stations(session: Session) -> Sequence[Station]:
    """Every station with its network and channels, ordered by network and station code."""
    stmt = (
        select(Station)
        .join(Station.network)
        .options(selectinload(Station.network), selectinload(Station.channels))
        .order_by(Network.code, Station.code)
    )
    return session.scalars(stmt).all()


def get_station(session: Session, *, network: str, station: str) -> Station:
    stmt = (
        select(Station)
        .join(Station.network)
        .where(Network.code == network, Station.code == station)
        .options(selectinload(Station.network), selectinload(Station.channels))
    )
    found = session.scalars(stmt).one_or_none()
    if found is None:
        raise NotFoundError("station", f"{network}.{station}")
    return found


def require_station(session: Session, *, network: str | None, station: str) -> None:
    """Raise ``NotFoundError`` unless a station with this code (in this network) exists."""
    stmt = select(Station.id).join(Station.network).where(Station.code == station)
    if network is not None:
        stmt = stmt.where(Network.code == network)
    if session.scalars(stmt.limit(1)).first() is None:
        raise NotFoundError("station", station if network is None else f"{network}.{station}")


def channel_index(session: Session) -> dict[ChannelKey, Channel]:
    """Every known channel by its SEED codes (for the ingest worker's lookup)."""
    stmt = select(Channel).options(selectinload(Channel.station).selectinload(Station.network))
    return {
        ChannelKey(c.station.network.code, c.station.code, c.location, c.code): c
        for c in session.scalars(stmt)
    }


def inventory_version(session: Session) -> tuple[object, ...]:
    """A cheap fingerprint of the inventory: it changes when stations or channels are added
    or a document is imported, so a reader can skip re-reading an unchanged inventory."""
    row = session.execute(
        select(
            select(func.count(), func.max(Channel.id)).select_from(Channel).subquery(),
            select(func.count()).select_from(Station).scalar_subquery(),
            select(func.max(InventoryDocument.id)).scalar_subquery(),
            select(func.max(InventoryDocument.imported_at)).scalar_subquery(),
        )
    ).one()
    return tuple(row)


def ensure_channels(
    session: Session,
    *,
    wanted: Iterable[tuple[ChannelKey, ChannelKind, float]],
) -> int:
    """Add the channels (key, kind, sampling rate) that the inventory lacks, to its stations;
    keys of unknown stations are ignored. Returns how many were added. For state-of-health
    channels the operator configures instead of listing them in StationXML."""
    items = list(wanted)
    if not items:
        return 0
    known = channel_index(session)
    stations = {(s.network.code, s.code): s for s in list_stations(session)}
    added = 0
    for key, kind, rate in items:
        station = stations.get((key.network, key.station))
        if key in known or station is None:
            continue
        session.add(
            Channel(
                station_id=station.id,
                location=key.location,
                code=key.channel,
                kind=kind,
                sampling_rate=rate,
                azimuth=None,
                dip=None,
                sensitivity=None,
                sensitivity_unit=None,
            )
        )
        added += 1
    session.flush()
    return added


def channel_statuses(session: Session, *, channel_ids: Iterable[int]) -> dict[int, ChannelStatus]:
    ids = list(channel_ids)
    if not ids:
        return {}
    stmt = select(ChannelStatus).where(ChannelStatus.channel_id.in_(ids))
    return {s.channel_id: s for s in session.scalars(stmt)}


def station_newest_samples(session: Session) -> dict[tuple[str, str], datetime]:
    """The newest sample received of each station (over its channels), where known."""
    stmt = (
        select(Network.code, Station.code, func.max(ChannelStatus.last_sample_time))
        .select_from(ChannelStatus)
        .join(Channel, Channel.id == ChannelStatus.channel_id)
        .join(Station, Station.id == Channel.station_id)
        .join(Network, Network.id == Station.network_id)
        .group_by(Network.code, Station.code)
    )
    # max() keeps the column's type: the values come back as aware UTC datetimes
    return {(net, sta): newest for net, sta, newest in session.execute(stmt) if newest}


def detection_counts(session: Session) -> dict[int, int]:
    """Number of detections stored per channel id."""
    stmt = select(Detection.channel_id, func.count()).group_by(Detection.channel_id)
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def record_arrivals(
    session: Session,
    *,
    arrivals: Mapping[int, tuple[datetime, int]],
    arrival_time: datetime,
) -> None:
    """For each channel id, ``(newest sample time, record count)`` arrived at ``arrival_time``.

    One query for all channels: the worker calls this once per batch of packets.
    """
    rows: list[dict[str, object]] = [
        {
            "channel_id": channel_id,
            "last_sample_time": last_sample_time,
            "last_arrival_time": arrival_time,
            "records": count,
        }
        for channel_id, (last_sample_time, count) in arrivals.items()
    ]
    upsert_many(
        session,
        ChannelStatus,
        rows,
        keys=["channel_id"],
        combine={"last_sample_time": "greatest", "records": "add"},
    )


def record_arrival(
    session: Session,
    *,
    channel_id: int,
    last_sample_time: datetime,
    arrival_time: datetime,
    count: int = 1,
) -> None:
    """Note that ``count`` records, the newest ending at ``last_sample_time``, arrived."""
    record_arrivals(
        session, arrivals={channel_id: (last_sample_time, count)}, arrival_time=arrival_time
    )


def stream_positions(session: Session, *, server: str) -> dict[tuple[str, str], StreamPosition]:
    """The last sequence number and record start time per (network, station) for one server."""
    stmt = select(StreamState).where(StreamState.server == server)
    return {
        (s.network, s.station): StreamPosition(s.last_seq, s.last_start)
        for s in session.scalars(stmt)
    }


def save_stream_states(
    session: Session,
    *,
    server: str,
    positions: Mapping[tuple[str, str], tuple[int, datetime]],
    now: datetime,
) -> None:
    """Store ``(last sequence, last record's start time)`` per ``(network, station)``, one
    query. The caller passes only records it archived: a repeat, a corrupt packet or an
    arrival time must never become a position (a server would resume after it)."""
    if not positions:
        return
    rows: list[dict[str, object]] = [
        {
            "server": server,
            "network": network,
            "station": station,
            "last_seq": last_seq,
            "last_start": last_start,
            "updated_at": now,
        }
        for (network, station), (last_seq, last_start) in positions.items()
    ]
    upsert_many(session, StreamState, rows, keys=["server", "network", "station"], combine={})


def save_stream_state(
    session: Session,
    *,
    server: str,
    network: str,
    station: str,
    last_seq: int,
    last_start: datetime,
    now: datetime,
) -> None:
    save_stream_states(
        session, server=server, positions={(network, station): (last_seq, last_start)}, now=now
    )


def store_detection(
    session: Session,
    *,
    channel_id: int,
    on_time: datetime,
    off_time: datetime,
    onset_time: datetime,
    peak_ratio: float,
    snr: float | None,
    peak_amplitude: float,
    profile: str,
    now: datetime,
    phase: str | None = None,
    onset_uncertainty: float | None = None,
    polarity: str | None = None,
    bridged: bool = False,
) -> Detection:
    detection = Detection(
        channel_id=channel_id,
        on_time=on_time,
        off_time=off_time,
        onset_time=onset_time,
        peak_ratio=peak_ratio,
        snr=snr,
        peak_amplitude=peak_amplitude,
        profile=profile,
        created_at=now,
        phase=phase,
        onset_uncertainty=onset_uncertainty,
        polarity=polarity,
        bridged=bridged,
    )
    session.add(detection)
    session.flush()
    return detection


@dataclass(frozen=True, slots=True)
class NewDetection:
    """A detection (a pick) to insert; see :func:`store_detections`."""

    channel_id: int
    on_time: datetime
    off_time: datetime
    onset_time: datetime
    peak_ratio: float
    snr: float | None
    peak_amplitude: float
    profile: str
    phase: str | None = None
    onset_uncertainty: float | None = None
    polarity: str | None = None
    bridged: bool = False
    status: str = "final"


def store_detections(
    session: Session, *, detections: Sequence[NewDetection], now: datetime
) -> list[int]:
    """Insert detections in one statement; their ids, in the order given.

    One round trip for a whole batch (``INSERT ... RETURNING`` over many rows), where
    :func:`store_detection` flushes once a detection.
    """
    if not detections:
        return []
    rows = [
        {
            "channel_id": d.channel_id,
            "on_time": d.on_time,
            "off_time": d.off_time,
            "onset_time": d.onset_time,
            "peak_ratio": d.peak_ratio,
            "snr": d.snr,
            "peak_amplitude": d.peak_amplitude,
            "profile": d.profile,
            "created_at": now,
            "phase": d.phase,
            "onset_uncertainty": d.onset_uncertainty,
            "polarity": d.polarity,
            "bridged": d.bridged,
            "status": d.status,
        }
        for d in detections
    ]
    statement = insert(Detection).returning(Detection.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))


def store_event(
    session: Session,
    *,
    event_id: int | None,
    time: datetime,
    status: EventStatus,
    n_stations: int,
    coincidence_sum: float,
    duration: float,
    detection_ids: Sequence[int],
    now: datetime,
) -> Event:
    """Insert a new event (``event_id=None``) or update one; its detections become
    ``detection_ids`` (links are added and removed, not rewritten)."""
    if event_id is None:
        event = Event(created_at=now)
        session.add(event)
    else:
        found = session.get(Event, event_id)
        if found is None:
            raise NotFoundError("event", str(event_id))
        event = found
    event.time = time
    event.status = status
    event.n_stations = n_stations
    event.coincidence_sum = coincidence_sum
    event.duration = duration
    event.updated_at = now
    session.flush()
    linked = set(
        session.scalars(
            select(EventDetection.detection_id).where(EventDetection.event_id == event.id)
        )
    )
    wanted = set(detection_ids)
    if linked - wanted:
        session.execute(
            delete(EventDetection).where(
                EventDetection.event_id == event.id,
                EventDetection.detection_id.in_(linked - wanted),
            )
        )
    session.add_all(EventDetection(event_id=event.id, detection_id=d) for d in wanted - linked)
    session.flush()
    return event


def _detections_query() -> Select[Detection]:
    return select(Detection).options(
        selectinload(Detection.channel).selectinload(Channel.station).selectinload(Station.network)
    )


def list_detections(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    network: str | None = None,
    station: str | None = None,
    channel: str | None = None,
    min_snr: float | None = None,
    phase: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[Detection]:
    """Detections in ``id`` order (the order they were stored), after the cursor ``after_id``;
    withdrawn preliminary picks are left out."""
    stmt = _detections_query().join(Detection.channel).join(Channel.station).join(Station.network)
    stmt = stmt.where(Detection.status != "withdrawn")
    if start is not None:
        stmt = stmt.where(Detection.on_time >= start)
    if end is not None:
        stmt = stmt.where(Detection.on_time < end)
    if network is not None:
        stmt = stmt.where(Network.code == network)
    if station is not None:
        stmt = stmt.where(Station.code == station)
    if channel is not None:
        stmt = stmt.where(Channel.code == channel)
    if min_snr is not None:
        stmt = stmt.where(Detection.snr >= min_snr)
    if phase == "none":
        stmt = stmt.where(Detection.phase.is_(None))
    elif phase is not None:
        stmt = stmt.where(Detection.phase == phase)
    if after_id is not None:
        stmt = stmt.where(Detection.id > after_id)
    return session.scalars(stmt.order_by(Detection.id).limit(limit)).all()


def _events_query() -> Select[Event]:
    return select(Event).options(
        selectinload(Event.detections)
        .selectinload(Detection.channel)
        .selectinload(Channel.station)
        .selectinload(Station.network)
    )


def list_events(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    min_stations: int | None = None,
    status: EventStatus | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[Event]:
    stmt = _events_query()
    if start is not None:
        stmt = stmt.where(Event.time >= start)
    if end is not None:
        stmt = stmt.where(Event.time < end)
    if min_stations is not None:
        stmt = stmt.where(Event.n_stations >= min_stations)
    if status is not None:
        stmt = stmt.where(Event.status == status)
    if after_id is not None:
        stmt = stmt.where(Event.id > after_id)
    return session.scalars(stmt.order_by(Event.id).limit(limit)).all()


def get_detection(session: Session, *, detection_id: int) -> Detection:
    found = session.scalars(_detections_query().where(Detection.id == detection_id)).one_or_none()
    if found is None:
        raise NotFoundError("detection", str(detection_id))
    return found


def get_event(session: Session, *, event_id: int) -> Event:
    found = session.scalars(_events_query().where(Event.id == event_id)).one_or_none()
    if found is None:
        raise NotFoundError("event", str(event_id))
    return found


def archive_file_sizes(session: Session, *, paths: Iterable[str]) -> dict[str, int]:
    """Committed sizes in bytes of archive files; files not yet written are left out.
    Asked a thousand paths at a time (SQLite limits the parameters of one statement)."""
    wanted = list(paths)
    sizes: dict[str, int] = {}
    for at in range(0, len(wanted), 1000):
        part = wanted[at : at + 1000]
        stmt = select(ArchiveFile.path, ArchiveFile.size).where(ArchiveFile.path.in_(part))
        sizes.update((row.path, row.size) for row in session.execute(stmt))
    return sizes


def archive_file_size(session: Session, *, path: str) -> int:
    """The committed size in bytes of an archive file (0 for a file not yet written)."""
    return archive_file_sizes(session, paths=[path]).get(path, 0)


def add_archived_records(
    session: Session, *, files: Mapping[str, tuple[int, int]], now: datetime
) -> None:
    """For each path, ``(new size, records added)``: one query for all files."""
    if not files:
        return
    rows: list[dict[str, object]] = [
        {"path": path, "size": size, "records": count, "updated_at": now}
        for path, (size, count) in files.items()
    ]
    upsert_many(session, ArchiveFile, rows, keys=["path"], combine={"records": "add"})
