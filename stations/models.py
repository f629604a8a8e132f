"""The tables: networks, stations, channels, stream state, detections, events, health,
and what operators write (API keys, webhooks, acknowledgements, maintenance).

Every time is timezone-aware UTC. Relationships are ``lazy="raise"``: queries say what
they load.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from stations._types import BigId, UtcDateTime, UtcTime, str_enum

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every ``Mapped[int]`` without a type of its own is an id or a key to one: 64-bit.
    type_annotation_map = {datetime: UtcDateTime(), int: BigId}  # noqa: RUF012


class ChannelKind(enum.StrEnum):
    """What a channel records, from its SEED instrument code."""

    SEISMOMETER = "seismometer"
    ACCELEROMETER = "accelerometer"
    SOH = "soh"


class EventStatus(enum.StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"


class LocationStatus(enum.StrEnum):
    """How an origin was solved: a free hypocentre, a fixed depth, or not at all."""

    FREE = "free"
    FIXED_DEPTH = "fixed_depth"
    NOT_LOCATED = "not_located"


class HealthState(enum.StrEnum):
    """A channel's or station's state, worst last."""

    OK = "OK"
    UNKNOWN = "UNKNOWN"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


class ChangeKind(enum.StrEnum):
    EVENT = "event"  # an event was created or updated
    DETECTION = "detection"
    STATE = "state"  # a station changed state
    ALERT = "alert"  # an early-warning alert's new version (ref: alert_version.id)


class InventoryDocument(Base):
    """A StationXML document as imported, kept whole for the response and re-export: its
    bytes as received, and the encoding they are in (declared, or from the byte order mark).
    """

    __tablename__ = "inventory_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[UtcTime]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str] = mapped_column(String(40))
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_key.id"), comment="who imported it through the API; null: the CLI"
    )


class Network(Base):
    __tablename__ = "network"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    stations: Mapped[list[Station]] = relationship(back_populates="network", lazy="raise")


class Station(Base):
    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("network_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    elevation: Mapped[float] = mapped_column(Float)
    site_name: Mapped[str | None] = mapped_column(String(500))
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    network: Mapped[Network] = relationship(back_populates="stations", lazy="raise")
    channels: Mapped[list[Channel]] = relationship(back_populates="station", lazy="raise")


class Channel(Base):
    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("station_id", "location", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    location: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(8))
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    sampling_rate: Mapped[float] = mapped_column(Float)
    azimuth: Mapped[float | None] = mapped_column(Float)
    dip: Mapped[float | None] = mapped_column(Float)
    sensitivity: Mapped[float | None] = mapped_column(Float)
    sensitivity_unit: Mapped[str | None] = mapped_column(String(32))
    inventory_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_document.id"))
    station: Mapped[Station] = relationship(back_populates="channels", lazy="raise")


class ChannelStatus(Base):
    """The newest data seen on a channel: what latency is computed from."""

    __tablename__ = "channel_status"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    last_sample_time: Mapped[UtcTime]
    last_arrival_time: Mapped[UtcTime]
    records: Mapped[int] = mapped_column(BigInteger, default=0)


class StreamState(Base):
    """Where a SeedLink stream stands: resume from here after any restart."""

    __tablename__ = "stream_state"
    __table_args__ = (UniqueConstraint("server", "network", "station"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    server: Mapped[str] = mapped_column(String(200))
    network: Mapped[str] = mapped_column(String(8))
    station: Mapped[str] = mapped_column(String(8))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_start: Mapped[UtcTime] = mapped_column(
        comment="start time of the last record archived: sent with the sequence on resume"
    )
    updated_at: Mapped[UtcTime]


class DataGap(Base):
    """A span of a channel missing from what was received: found when its data resumed.

    ``cause`` is ``resume`` when the span fell while Larza was not reading the stream (a
    restart, a reconnection: the server no longer held the data or skipped it) and
    ``stream`` when the data arrived with the span missing. A late record that fills part of
    a gap shrinks or splits it.
    """

    __tablename__ = "data_gap"
    __table_args__ = (Index("ix_data_gap_stream", "network", "station", "location", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(8))
    station: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    start: Mapped[UtcTime] = mapped_column(index=True, comment="the last sample before the gap")
    end: Mapped[UtcTime] = mapped_column(comment="the first sample after the gap")
    seconds: Mapped[float] = mapped_column(Float, comment="missing time: end - start - 1/rate")
    cause: Mapped[str] = mapped_column(String(16))
    detected_at: Mapped[UtcTime]


class Detection(Base):
    __tablename__ = "detection"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), index=True)
    on_time: Mapped[UtcTime] = mapped_column(index=True)
    off_time: Mapped[UtcTime]
    onset_time: Mapped[UtcTime]
    peak_ratio: Mapped[float] = mapped_column(Float)
    snr: Mapped[float | None] = mapped_column(Float, comment="None when the noise was zero")
    peak_amplitude: Mapped[float] = mapped_column(Float)
    profile: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[UtcTime]
    phase: Mapped[str | None] = mapped_column(
        String(1), comment="P or S; None: no phase (a channel without partners)"
    )
    onset_uncertainty: Mapped[float | None] = mapped_column(
        Float, comment="seconds; None for detections stored before picks had it"
    )
    polarity: Mapped[str | None] = mapped_column(
        String(12), comment="first motion: positive, negative or undecidable; None for S"
    )
    bridged: Mapped[bool] = mapped_column(
        default=False, server_default=false(), comment="a gap was bridged in its window"
    )
    status: Mapped[str] = mapped_column(
        String(12),
        default="final",
        server_default="final",
        comment="preliminary (at trigger-on), final, or withdrawn (never completed)",
    )
    channel: Mapped[Channel] = relationship(lazy="raise")


class Event(Base):
    """A network event: detections at several stations associated in time."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[UtcTime] = mapped_column(index=True)
    status: Mapped[EventStatus] = mapped_column(str_enum(EventStatus))
    n_stations: Mapped[int] = mapped_column(Integer)
    coincidence_sum: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    created_at: Mapped[UtcTime]
    updated_at: Mapped[UtcTime]
    # The latest origin and the network magnitude, kept here for filtering and ordering.
    latitude: Mapped[float | None] = mapped_column(Float, index=True)
    longitude: Mapped[float | None] = mapped_column(Float)
    depth_km: Mapped[float | None] = mapped_column(Float)
    magnitude: Mapped[float | None] = mapped_column(Float, index=True, comment="network ML")
    magnitude_uncertainty: Mapped[float | None] = mapped_column(Float)
    magnitude_stations: Mapped[int | None] = mapped_column(Integer)
    energy_class: Mapped[float | None] = mapped_column(Float, comment="Rautian's K")
    detections: Mapped[list[Detection]] = relationship(secondary="event_detection", lazy="raise")


class EventDetection(Base):
    __tablename__ = "event_detection"
    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    detection_id: Mapped[int] = mapped_column(
        ForeignKey("detection.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class HealthSnapshot(Base):
    """Metrics of one channel at one time; the metric set grows without migrations.

    ``interval_s`` is the snapshot's resolution: the worker's interval (a minute) for recent
    history, an hour for older history downsampled to hourly means.
    """

    __tablename__ = "health_snapshot"
    __table_args__ = (Index("ix_health_snapshot_channel_time", "channel_id", "time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    time: Mapped[UtcTime]
    interval_s: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChannelHealth(Base):
    """The latest health of a channel: its metrics, state and reason, rewritten each time."""

    __tablename__ = "channel_health"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), primary_key=True)
    evaluated_at: Mapped[UtcTime]
    state: Mapped[HealthState] = mapped_column(str_enum(HealthState))
    reason: Mapped[str] = mapped_column(String(500))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)


class StationHealth(Base):
    """A station's current state, rolled up from its channels, and since when it holds."""

    __tablename__ = "station_health"
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), primary_key=True)
    state: Mapped[HealthState] = mapped_column(str_enum(HealthState))
    reason: Mapped[str] = mapped_column(String(1000))
    since: Mapped[UtcTime]
    evaluated_at: Mapped[UtcTime]


class StateChange(Base):
    """A station's state changed: the history operators read, and alerting scripts poll."""

    __tablename__ = "state_change"
    __table_args__ = (Index("ix_state_change_station_time", "station_id", "time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    time: Mapped[UtcTime]
    from_state: Mapped[HealthState] = mapped_column(str_enum(HealthState))
    to_state: Mapped[HealthState] = mapped_column(str_enum(HealthState))
    reason: Mapped[str] = mapped_column(String(1000))
    station: Mapped[Station] = relationship(lazy="raise")


class ArchiveFile(Base):
    """How many bytes of an SDS archive file are committed: the rest is a crash's leftover."""

    __tablename__ = "archive_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(300), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[UtcTime]


class StationLease(Base):
    """Which ingest worker processes a station, until when: the partition among workers."""

    __tablename__ = "station_lease"
    __table_args__ = (UniqueConstraint("network", "station"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(8))
    station: Mapped[str] = mapped_column(String(8))
    worker: Mapped[str | None] = mapped_column(String(200), index=True)
    expires_at: Mapped[UtcTime]
    updated_at: Mapped[UtcTime]


class IngestWorker(Base):
    """A worker's heartbeat: the workers alive share the stations among themselves."""

    __tablename__ = "ingest_worker"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[UtcTime]
    seen_at: Mapped[UtcTime]


class Change(Base):
    """What alerting clients hear of (the SSE stream, webhooks), numbered in commit order.

    Rows are added at the end of the transaction that made the change, under a lock held to
    its commit (see ``stations.changes``), so a reader that has seen ``id`` N never sees a
    smaller one appear later.
    """

    __tablename__ = "change_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ChangeKind] = mapped_column(str_enum(ChangeKind))
    ref_id: Mapped[int] = mapped_column(BigInteger, comment="event, detection or state_change id")
    time: Mapped[UtcTime]


class ApiKey(Base):
    """A key that may write through the API; only a hash of the secret is kept."""

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), index=True, comment="first characters, shown")
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[UtcTime]
    revoked_at: Mapped[datetime | None]


class Webhook(Base):
    """A receiver of changes: delivered in order, signed with HMAC, retried until it answers.

    ``cursor`` is the last ``change_log.id`` the receiver acknowledged (2xx): nothing after it
    is lost while the receiver is down, only delayed.
    """

    __tablename__ = "webhook"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200), comment="HMAC key shared with the receiver")
    kinds: Mapped[str] = mapped_column(String(100), comment="change kinds, comma separated")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    created_at: Mapped[UtcTime]
    active: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))


class Acknowledgement(Base):
    """An operator on duty saw a station's state and is on it ("I've seen it").

    It points at the state change that began the state it acknowledges: the station's next
    change leaves it unacknowledged again. One per state change; ``api_key_id`` and
    ``created_at`` record who wrote it and when.
    """

    __tablename__ = "acknowledgement"
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    state_change_id: Mapped[int] = mapped_column(ForeignKey("state_change.id"), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id"))
    comment: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[UtcTime]
    state_change: Mapped[StateChange] = relationship(lazy="raise")
    api_key: Mapped[ApiKey] = relationship(lazy="raise")


class StationMaintenance(Base):
    """A station an operator put in maintenance (a field visit), or took out, with a note.

    Only shown: the station's state is still evaluated and stored as usual. ``since`` is
    when ``active`` last changed; ``api_key_id`` and ``updated_at`` record the last write.
    """

    __tablename__ = "station_maintenance"
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), primary_key=True)
    active: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(1000))
    since: Mapped[UtcTime]
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id"))
    updated_at: Mapped[UtcTime]
    api_key: Mapped[ApiKey] = relationship(lazy="raise")


class Origin(Base):
    """One version of an event's location: each update of the event stores a new one."""

    __tablename__ = "origin"
    __table_args__ = (UniqueConstraint("event_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[LocationStatus] = mapped_column(str_enum(LocationStatus))
    reason: Mapped[str] = mapped_column(String(200), comment="why fixed or not located")
    time: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    depth_km: Mapped[float | None] = mapped_column(Float)
    rms: Mapped[float | None] = mapped_column(Float, comment="seconds")
    n_phases: Mapped[int] = mapped_column(Integer)
    n_stations: Mapped[int] = mapped_column(Integer)
    azimuthal_gap: Mapped[float | None] = mapped_column(Float)
    min_distance_km: Mapped[float | None] = mapped_column(Float)
    max_distance_km: Mapped[float | None] = mapped_column(Float)
    time_error_s: Mapped[float | None] = mapped_column(Float)
    latitude_error_km: Mapped[float | None] = mapped_column(Float)
    longitude_error_km: Mapped[float | None] = mapped_column(Float)
    depth_error_km: Mapped[float | None] = mapped_column(Float)
    semi_major_km: Mapped[float | None] = mapped_column(Float, comment="68.3 % ellipse")
    semi_minor_km: Mapped[float | None] = mapped_column(Float)
    ellipse_azimuth: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[str] = mapped_column(String(1), comment="HYPO71 grade A-D; - not located")
    created_at: Mapped[UtcTime]
    arrivals: Mapped[list[Arrival]] = relationship(lazy="raise", order_by="Arrival.id")
    predicted: Mapped[list[PredictedArrival]] = relationship(
        lazy="raise", order_by="PredictedArrival.id"
    )


class Arrival(Base):
    """A pick as an origin uses it."""

    __tablename__ = "arrival"
    id: Mapped[int] = mapped_column(primary_key=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("origin.id", ondelete="CASCADE"), index=True)
    detection_id: Mapped[int] = mapped_column(
        ForeignKey("detection.id", ondelete="CASCADE"), index=True
    )
    phase: Mapped[str] = mapped_column(String(1))
    residual: Mapped[float | None] = mapped_column(Float, comment="observed - predicted, s")
    weight: Mapped[float] = mapped_column(Float)
    distance_km: Mapped[float | None] = mapped_column(Float)
    azimuth: Mapped[float | None] = mapped_column(Float)


class PredictedArrival(Base):
    """When a located origin has a phase reach a station of its event, picked or not: from
    the worker's travel-time table and the station's elevation (the API has neither)."""

    __tablename__ = "predicted_arrival"
    id: Mapped[int] = mapped_column(primary_key=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("origin.id", ondelete="CASCADE"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    phase: Mapped[str] = mapped_column(String(1))
    time: Mapped[UtcTime]
    distance_km: Mapped[float] = mapped_column(Float, comment="epicentral")
    station: Mapped[Station] = relationship(lazy="raise")


class StationMagnitude(Base):
    """A station's ML for an event and the Wood-Anderson amplitudes it came from."""

    __tablename__ = "station_magnitude"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    channels: Mapped[str] = mapped_column(String(40), comment="e.g. HHE,HHN")
    amplitudes_mm: Mapped[str] = mapped_column(String(100), comment="Wood-Anderson, per channel")
    distance_km: Mapped[float] = mapped_column(Float)
    magnitude: Mapped[float] = mapped_column(Float)
    correction: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(comment="in the network magnitude's trimmed mean")
    station: Mapped[Station] = relationship(lazy="raise")


class StationMotion(Base):
    """A station's ground motion in an event (larger horizontal)."""

    __tablename__ = "station_motion"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    channels: Mapped[str] = mapped_column(String(40))
    distance_km: Mapped[float | None] = mapped_column(Float)
    pga_cms2: Mapped[float] = mapped_column(Float)
    pgv_cms: Mapped[float] = mapped_column(Float)
    psa03_g_pct: Mapped[float] = mapped_column(Float)
    psa10_g_pct: Mapped[float] = mapped_column(Float)
    psa30_g_pct: Mapped[float] = mapped_column(Float)
    intensity: Mapped[float] = mapped_column(Float, comment="Worden et al. 2012")
    station: Mapped[Station] = relationship(lazy="raise")


class Alert(Base):
    """An early-warning alert: what it is now; every version it had is an
    :class:`AlertVersion`."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), comment="onsite (one station) or network")
    status: Mapped[str] = mapped_column(String(12), comment="active, cancelled or ended")
    version: Mapped[int] = mapped_column(Integer, comment="the latest version's number")
    created_at: Mapped[UtcTime] = mapped_column(index=True)
    updated_at: Mapped[UtcTime]
    versions: Mapped[list[AlertVersion]] = relationship(
        lazy="raise", order_by="AlertVersion.version", back_populates="alert"
    )


class AlertVersion(Base):
    """One message of an alert, kept as sent: created, updated, cancelled or ended."""

    __tablename__ = "alert_version"
    __table_args__ = (UniqueConstraint("alert_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(12), comment="created, updated, cancelled, ended")
    sent_at: Mapped[UtcTime]
    origin_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    depth_km: Mapped[float | None] = mapped_column(Float)
    magnitude: Mapped[float | None] = mapped_column(Float)
    magnitude_sigma: Mapped[float | None] = mapped_column(Float)
    station: Mapped[str | None] = mapped_column(String(20), comment="NET.STA of an on-site alert")
    reason: Mapped[str | None] = mapped_column(String(300), comment="why, in words")
    content: Mapped[dict[str, Any]] = mapped_column(
        JSON, comment="sites (intensity, S arrival, warning time), stations, picks"
    )
    alert: Mapped[Alert] = relationship(lazy="raise", back_populates="versions")


# -- catalogue runs (``larza reprocess``) ---------------------------------------------------
# A run's picks and events live in tables of their own, never in ``detection`` and ``event``:
# the live queries, their indexes and the change log stay as they are, a run of millions of
# picks does not slow them, and a run is deleted with one row (the rest cascades). A run's
# picks name their stream by its codes (a run may cover stations not in the inventory).


class CatalogueRun(Base):
    """One named reprocessing of the archive: what it covered, with which configuration,
    and how far it got."""

    __tablename__ = "catalogue_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    config: Mapped[str] = mapped_column(Text, comment="the larza.toml the run used, as text")
    start: Mapped[UtcTime]
    end: Mapped[UtcTime]
    stations: Mapped[str] = mapped_column(Text, comment="NET.STA of the run, comma-separated")
    chunk_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        String(16), comment="running, finished, partial (chunks failed) or interrupted"
    )
    chunks: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks_failed: Mapped[int] = mapped_column(Integer, default=0)
    chunks_empty: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="of chunks_done, those the source had no data in",
    )
    detections: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[UtcTime]
    finished_at: Mapped[datetime | None]
    source_kind: Mapped[str | None] = mapped_column(
        String(8), comment="sds or fdsn; null: stored before the source was recorded"
    )
    source: Mapped[str | None] = mapped_column(
        Text, comment="the SDS archive's path, or the FDSN dataselect service's base URL"
    )
    station_selection: Mapped[str | None] = mapped_column(
        String(8), comment="given (--stations) or all (every station of the source)"
    )


class RunChunk(Base):
    """A chunk of a run that ran: its picks (JSON, for the association and for resuming) or
    the error it failed with."""

    __tablename__ = "run_chunk"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_run.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    empty: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="finished, and the source had no data in it",
    )
    result: Mapped[str] = mapped_column(Text, comment="picks as JSON, or the error")
    finished_at: Mapped[UtcTime]


class RunDetection(Base):
    """A pick of a catalogue run."""

    __tablename__ = "run_detection"
    __table_args__ = (Index("ix_run_detection_run_onset", "run_id", "onset_time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("catalogue_run.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(8))
    station: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    on_time: Mapped[UtcTime]
    off_time: Mapped[UtcTime]
    onset_time: Mapped[UtcTime]
    peak_ratio: Mapped[float] = mapped_column(Float)
    snr: Mapped[float | None] = mapped_column(Float)
    peak_amplitude: Mapped[float] = mapped_column(Float)
    profile: Mapped[str] = mapped_column(String(100))
    phase: Mapped[str | None] = mapped_column(String(1))
    onset_uncertainty: Mapped[float | None] = mapped_column(Float)
    polarity: Mapped[str | None] = mapped_column(String(12))
    bridged: Mapped[bool] = mapped_column(Boolean)


class RunEvent(Base):
    """An event of a catalogue run; ``detections``: its picks' ids, space-separated."""

    __tablename__ = "run_event"
    __table_args__ = (Index("ix_run_event_run_time", "run_id", "time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("catalogue_run.id", ondelete="CASCADE"))
    time: Mapped[UtcTime]
    stations: Mapped[str] = mapped_column(Text, comment="NET.STA, space-separated")
    n_stations: Mapped[int] = mapped_column(Integer)
    coincidence_sum: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    detections: Mapped[str] = mapped_column(Text, comment="run_detection ids, space-separated")
